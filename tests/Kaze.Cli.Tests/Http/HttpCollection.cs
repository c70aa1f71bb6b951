using Xunit;

namespace Kaze.Cli.Tests.Http;

/// <summary>
/// The HTTP tests: each starts two real `kaze run` sidecars with an HTTP app under each (four
/// processes, more with curl). They run one at a time and after the parallel tests, as the mesh
/// tests do: overlapping pairs on two cores turn timeouts into noise.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HttpCollection
{
    public const string Name = "Http (two sidecars with apps)";
}
