namespace Kaze.Core;

internal static class AssemblyMarker
{
}
