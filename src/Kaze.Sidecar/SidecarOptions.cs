using Kaze.Core;
using Kaze.Protocol;

namespace Kaze.Sidecar;

/// <summary>Settings of one sidecar.</summary>
/// <remarks>Defaults: ident 0.0.0.1, a channel named after the ident, the pid and 8 random hex digits, 1 MiB rings, 5 s grace.</remarks>
public sealed class SidecarOptions
{
    /// <summary>This node's ident. Default 0.0.0.1.</summary>
    public Ident Ident { get; set; } = new(1);

    /// <summary>This node's service names (docs/discovery.md): a packet from the host to one of them may be delivered to the host itself. Default none.</summary>
    public IReadOnlyList<string> Names { get; set; } = [];

    /// <summary>The channel's name; null for "&lt;ident&gt;-&lt;pid&gt;-&lt;8 random hex digits&gt;", unique per sidecar and not guessable by another user.</summary>
    public string? ChannelName { get; set; }

    /// <summary>Ring sizes. Default 1 MiB each way.</summary>
    public ChannelOptions Channel { get; set; } = new();

    /// <summary>How long the host gets to exit after the exit request before it is SIGKILLed. Default 5 s.</summary>
    public TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Whether the node serves a host through a channel (`kaze run`) or is a relay (`kaze sidecar`). Default true.</summary>
    public bool WithHost { get; set; } = true;

    // Drawn once per process: another user who could predict the default name could create a file
    // under it first (/dev/shm is shared) and stop kaze from starting.
    private static readonly string s_defaultSuffix = System.Security.Cryptography.RandomNumberGenerator.GetHexString(8, lowercase: true);

    /// <summary>The channel name to use: <see cref="ChannelName"/>, or the ident, the pid and a random part.</summary>
    public string EffectiveChannelName => ChannelName ?? $"{Ident}-{Environment.ProcessId}-{s_defaultSuffix}";
}
