namespace Kaze.Plugin;

internal static class AssemblyMarker
{
}
