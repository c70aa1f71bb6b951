namespace Kaze.Resolver.Tests.Infrastructure;

/// <summary>
/// A test that needs a real etcd binary: skipped, with the reason shown, when <c>etcd</c> is not on
/// PATH (xunit 2 has no skip decided inside a test; an attribute that sets Skip is its way).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class EtcdFactAttribute : FactAttribute
{
    public EtcdFactAttribute()
    {
        Skip = EtcdProcess.SkipReason;
    }
}
