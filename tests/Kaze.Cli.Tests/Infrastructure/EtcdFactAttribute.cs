using Xunit;

namespace Kaze.Cli.Tests.Infrastructure;

/// <summary>A test that starts a private etcd (<see cref="EtcdProcess"/>): skipped, with the reason shown, when etcd is not on PATH.</summary>
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        Skip = EtcdProcess.SkipReason;
    }
}
