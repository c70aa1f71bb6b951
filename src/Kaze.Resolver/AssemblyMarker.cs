namespace Kaze.Resolver;

internal static class AssemblyMarker
{
}
