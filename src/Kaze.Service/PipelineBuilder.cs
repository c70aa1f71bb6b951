namespace Kaze.Service;

/// <summary>Builds the packet pipeline from middlewares, in the order they are added, ending in a terminal step.</summary>
public sealed class PipelineBuilder
{
    private readonly List<(string Name, Func<PacketDelegate, PacketDelegate> Middleware)> _components = [];

    /// <summary>Creates a builder.</summary>
    public PipelineBuilder(IServiceProvider? services = null) => Services = services;

    /// <summary>The sidecar's services, for middlewares that resolve their dependencies.</summary>
    public IServiceProvider? Services { get; }

    /// <summary>The names of the middlewares added so far, in order (for logs and `kaze config dump`).</summary>
    public IReadOnlyList<string> Names => _components.ConvertAll(c => c.Name);

    /// <summary>Adds a middleware that wraps the rest of the pipeline.</summary>
    public PipelineBuilder Use(Func<PacketDelegate, PacketDelegate> middleware, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        _components.Add((name ?? middleware.Method.DeclaringType?.Name ?? "middleware", middleware));
        return this;
    }

    /// <summary>Adds an inline middleware.</summary>
    public PipelineBuilder Use(Func<PacketContext, PacketDelegate, ValueTask> middleware, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        return Use(next => context => middleware(context, next), name);
    }

    /// <summary>Adds a class middleware.</summary>
    public PipelineBuilder Use(IPacketMiddleware middleware, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(middleware);
        return Use(next => context => middleware.InvokeAsync(context, next), name ?? middleware.GetType().Name);
    }

    /// <summary>
    /// Builds the pipeline; <paramref name="terminal"/> runs when every middleware called next.
    /// An exception from a step surfaces as a <see cref="PipelineStepException"/> naming it.
    /// </summary>
    public PacketDelegate Build(PacketDelegate terminal)
    {
        ArgumentNullException.ThrowIfNull(terminal);
        PacketDelegate app = Guard(terminal, "router");
        for (int i = _components.Count - 1; i >= 0; i--)
        {
            app = Guard(_components[i].Middleware(app), _components[i].Name);
        }

        return app;
    }

    private static PacketDelegate Guard(PacketDelegate step, string name) => context =>
    {
        try
        {
            ValueTask pending = step(context);
            return pending.IsCompletedSuccessfully ? pending : AwaitGuarded(pending, name);
        }
        catch (Exception e) when (e is not PipelineStepException)
        {
            throw new PipelineStepException(name, e);
        }
    };

    private static async ValueTask AwaitGuarded(ValueTask pending, string name)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not PipelineStepException and not OperationCanceledException)
        {
            throw new PipelineStepException(name, e);
        }
    }
}
