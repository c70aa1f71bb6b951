using System.Collections.Concurrent;
using System.Text;
using Kaze.Plugin;
using Kaze.Protocol;
using Kaze.Service;
using Kaze.Sidecar.RateLimiting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kaze.Sidecar.Tests.RateLimiting;

/// <summary>
/// The rate-limit plugin on a manual clock, in a pipeline of its own: packets go in through
/// <see cref="Send"/>; what passes is recorded by the terminal step, answers by the replier.
/// </summary>
internal sealed class LimiterHarness : IDisposable
{
    public static readonly Ident Self = new(1);

    private readonly ServiceProvider _services;
    private readonly PacketDelegate _pipeline;
    private uint _sequence;

    private LimiterHarness(string json)
    {
        IConfigurationRoot configuration = Configuration(json);
        var plugin = new RateLimitPlugin(Clock);
        var context = new PluginContext(plugin.Name, configuration.GetSection(plugin.Name), configuration, Self);
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddProvider(Logs).SetMinimumLevel(LogLevel.Trace));
        plugin.ConfigureServices(context, services);
        _services = services.BuildServiceProvider();
        var builder = new PipelineBuilder(_services);
        plugin.ConfigurePipeline(context, builder, _services);
        Steps = builder.Names;
        Counters = _services.GetRequiredService<RateLimitCounters>();
        Limiter = _services.GetRequiredService<PacketRateLimiter>();
        _pipeline = builder.Build(context =>
        {
            Passed.Enqueue(context.Header);
            return ValueTask.CompletedTask;
        });
    }

    public ManualClock Clock { get; } = new();

    public LogCapture Logs { get; } = new();

    public Replies Replier { get; } = new();

    /// <summary>Headers of the packets that got through, in order.</summary>
    public ConcurrentQueue<Hdr> Passed { get; } = new();

    public RateLimitCounters Counters { get; }

    public PacketRateLimiter Limiter { get; }

    public IReadOnlyList<string> Steps { get; }

    public static LimiterHarness Create(string rateLimitsJson) => new($"{{ \"rateLimits\": {rateLimitsJson} }}");

    public static IConfigurationRoot Configuration(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    public Hdr Request(string bodyType = "echo", uint source = 1, uint timeoutMs = 5000)
    {
        Hdr header = Hdr.CreateRequest(Self, bodyType, ++_sequence, timeoutMs);
        header.SrcIdent = source;
        return header;
    }

    public static Hdr Notify(string bodyType = "echo", uint source = 1)
    {
        Hdr header = Hdr.CreateNotify(Self, bodyType);
        header.SrcIdent = source;
        return header;
    }

    public static Hdr Response(string bodyType = "echo.rsp", uint source = 2)
    {
        Hdr request = Hdr.CreateRequest(new Ident(source), "echo", 7, 1000);
        request.SrcIdent = Self.Value;
        Hdr response = Hdr.CreateResponse(request, RetCode.Ok, bodyType);
        response.SrcIdent = source;
        return response;
    }

    /// <summary>Runs one packet through the pipeline; completes when the pipeline is done with it.</summary>
    public ValueTask Send(Hdr header, PacketOrigin origin = PacketOrigin.Network)
    {
        var context = new PacketContext(Packet.Create(header, ReadOnlySpan<byte>.Empty), origin, new Ident(header.SrcIdent), Replier);
        ValueTask pending = _pipeline(context);
        if (pending.IsCompletedSuccessfully)
        {
            context.Dispose();
            return ValueTask.CompletedTask;
        }

        return DisposeAfter(pending, context);
    }

    /// <summary>Sends synchronously-completing packets; fails if one is held.</summary>
    public void SendNow(Hdr header, PacketOrigin origin = PacketOrigin.Network)
    {
        ValueTask pending = Send(header, origin);
        Assert.True(pending.IsCompleted, $"{header.BodyType} from {new Ident(header.SrcIdent)} was held, not passed or refused at once");
    }

    public void Dispose() => _services.Dispose();

    private static async ValueTask DisposeAfter(ValueTask pending, PacketContext context)
    {
        try
        {
            await pending;
        }
        finally
        {
            context.Dispose();
        }
    }

    /// <summary>Answers the rate limiter sent back: (the request's sequence, the code).</summary>
    internal sealed class Replies : IPacketReplier
    {
        public ConcurrentQueue<(uint Sequence, RetCode Code, uint From)> Sent { get; } = new();

        public bool TrySend(Packet packet)
        {
            Sent.Enqueue((packet.Header.Rsp, (RetCode)packet.Header.RetCode, packet.Header.SrcIdent));
            packet.Dispose();
            return true;
        }
    }
}
