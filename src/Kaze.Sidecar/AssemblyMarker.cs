namespace Kaze.Sidecar;

internal static class AssemblyMarker
{
}
