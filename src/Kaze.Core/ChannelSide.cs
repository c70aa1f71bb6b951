namespace Kaze.Core;

/// <summary>Which end of a channel a process holds.</summary>
public enum ChannelSide
{
    /// <summary>The creator: writes ring 0 (sidecar → host), reads ring 1.</summary>
    Sidecar = 0,

    /// <summary>The opener: writes ring 1 (host → sidecar), reads ring 0.</summary>
    Host = 1,
}
