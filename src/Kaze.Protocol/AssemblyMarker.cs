namespace Kaze.Protocol;

internal static class AssemblyMarker
{
}
