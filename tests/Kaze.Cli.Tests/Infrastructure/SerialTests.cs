using Xunit;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>
/// Tests that measure time (timeouts, grace periods, start-up) or that depend on no other kaze
/// starting meanwhile (a stale channel file is removed by the next `kaze run`, whoever's it is)
/// run in this collection: after the parallel ones, one at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTests
{
    public const string Name = "Serial (timing and stale files)";
}
