using Xunit;

namespace Kaze.Core.Tests.Infrastructure;

/// <summary>
/// Tests that measure time (wake latency, timeouts, peer death) or load both cores (the
/// cross-process stream) run in this collection: after the parallel ones, one at a time, so
/// neither disturbs the other's figures on a 2-core machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTests
{
    public const string Name = "Serial (timing and cross-process)";
}
