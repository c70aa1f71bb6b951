namespace Kaze.Edge;

internal static class AssemblyMarker
{
}
