namespace Kaze.Service;

internal static class AssemblyMarker
{
}
