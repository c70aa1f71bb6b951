using System.Runtime.ExceptionServices;
using Kaze.Service;

namespace Kaze.Sidecar.Plugins;

/// <summary>
/// Turns the middlewares a plugin added to its own <see cref="PipelineBuilder"/> into one step of
/// the sidecar's pipeline whose failures carry the plugin's name.
/// </summary>
/// <remarks>
/// <code>
///  sidecar pipeline:  … ─▶ [ plugin "hello": a ─▶ b ─▶ Downstream ] ─▶ tracker ─▶ router
/// </code>
/// The plugin's builder names each of its failures after the step (a, b) that threw; those are
/// renamed to the plugin's name here. A failure further down the sidecar's pipeline passes
/// through the plugin's steps too: it is marked on its way in (<see cref="DownstreamFailure"/>)
/// and comes out unchanged, still naming the step that really failed. No allocation when the
/// packet goes through synchronously.
/// </remarks>
internal static class PluginStep
{
    public static PacketDelegate Build(PipelineBuilder plugin, PacketDelegate next, string name)
    {
        PacketDelegate inner = plugin.Build(Downstream(next));
        return context =>
        {
            ValueTask pending;
            try
            {
                pending = inner(context);
            }
            catch (PipelineStepException e)
            {
                throw Renamed(e, name);
            }

            return pending.IsCompletedSuccessfully ? pending : AwaitRenamed(pending, name);
        };
    }

    private static async ValueTask AwaitRenamed(ValueTask pending, string name)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (PipelineStepException e)
        {
            throw Renamed(e, name);
        }
    }

    private static Exception Renamed(PipelineStepException e, string name)
    {
        if (e.InnerException is DownstreamFailure downstream)
        {
            ExceptionDispatchInfo.Throw(downstream.Original);
        }

        return new PipelineStepException(name, e.InnerException ?? e);
    }

    private static PacketDelegate Downstream(PacketDelegate next) => context =>
    {
        ValueTask pending;
        try
        {
            pending = next(context);
        }
        catch (PipelineStepException e)
        {
            throw new DownstreamFailure(e);
        }

        return pending.IsCompletedSuccessfully ? pending : AwaitDownstream(pending);
    };

    private static async ValueTask AwaitDownstream(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (PipelineStepException e)
        {
            throw new DownstreamFailure(e);
        }
    }

    /// <summary>A failure of a step after the plugin, carried through the plugin's own steps.</summary>
    private sealed class DownstreamFailure(PipelineStepException original) : Exception(original.Message, original)
    {
        public PipelineStepException Original { get; } = original;
    }
}
