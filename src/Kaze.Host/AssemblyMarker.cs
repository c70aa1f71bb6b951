namespace Kaze.Host;

internal static class AssemblyMarker
{
}
