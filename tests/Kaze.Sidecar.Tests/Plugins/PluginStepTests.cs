using Kaze.Protocol;
using Kaze.Service;
using Kaze.Sidecar.Plugins;

namespace Kaze.Sidecar.Tests.Plugins;

public sealed class PluginStepTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PluginStepFailure_CarriesThePluginsName(bool async)
    {
        var plugin = new PipelineBuilder();
        plugin.Use((context, next) => next(context), "first");
        Func<PacketContext, PacketDelegate, ValueTask> second = async ? ThrowAfterYield : Throw;
        plugin.Use(second, "second");
        PacketDelegate pipeline = Sidecar(plugin, downstream: (context, next) => next(context));

        var e = await Assert.ThrowsAsync<PipelineStepException>(() => Run(pipeline));

        Assert.Equal("plugin", e.Step);
        Assert.Equal("plugin boom", e.InnerException!.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FailureAfterThePlugin_KeepsTheNameOfTheStepThatFailed(bool async)
    {
        var plugin = new PipelineBuilder();
        Func<PacketContext, PacketDelegate, ValueTask> mine = async ? PassAfterYield : (context, next) => next(context);
        plugin.Use(mine, "mine");
        PacketDelegate pipeline = Sidecar(plugin, downstream: async ? ThrowAfterYield : Throw);

        var e = await Assert.ThrowsAsync<PipelineStepException>(() => Run(pipeline));

        Assert.Equal("after", e.Step);
        Assert.Equal("plugin boom", e.InnerException!.Message);
    }

    [Fact]
    public async Task PassingPacket_GoesThroughEveryStep()
    {
        var seen = new List<string>();
        var plugin = new PipelineBuilder();
        plugin.Use((context, next) => { seen.Add("mine"); return next(context); }, "mine");
        PacketDelegate pipeline = Sidecar(
            plugin,
            downstream: (context, next) => { seen.Add("after"); return next(context); },
            router: _ => { seen.Add("router"); return ValueTask.CompletedTask; });

        await Run(pipeline);

        Assert.Equal(["mine", "after", "router"], seen);
    }

    // The sidecar's pipeline: the plugin's steps as one step named "plugin", then a step "after", then the router.
    private static PacketDelegate Sidecar(PipelineBuilder plugin, Func<PacketContext, PacketDelegate, ValueTask> downstream, PacketDelegate? router = null)
    {
        var builder = new PipelineBuilder();
        builder.Use(next => PluginStep.Build(plugin, next, "plugin"), "plugin");
        builder.Use(downstream, "after");
        return builder.Build(router ?? (_ => ValueTask.CompletedTask));
    }

    private static async Task Run(PacketDelegate pipeline)
    {
        using var context = new PacketContext(Packet.Create(Hdr.CreateNotify(new Ident(1), "test"), []), PacketOrigin.Host, new Ident(1), new NoReplies());
        await pipeline(context);
    }

    private static ValueTask Throw(PacketContext context, PacketDelegate next) => throw new InvalidOperationException("plugin boom");

    private static async ValueTask ThrowAfterYield(PacketContext context, PacketDelegate next)
    {
        await Task.Yield();
        throw new InvalidOperationException("plugin boom");
    }

    private static async ValueTask PassAfterYield(PacketContext context, PacketDelegate next)
    {
        await Task.Yield();
        await next(context);
    }

    private sealed class NoReplies : IPacketReplier
    {
        public bool TrySend(Packet packet)
        {
            packet.Dispose();
            return false;
        }
    }
}
