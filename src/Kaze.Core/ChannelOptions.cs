namespace Kaze.Core;

/// <summary>Sizes of a channel the sidecar creates.</summary>
/// <remarks>Defaults: 1 MiB per direction. Each capacity must be a power of two from 64 bytes to 1 GiB; a record's payload may be up to half the capacity minus 4 bytes.</remarks>
public sealed class ChannelOptions
{
    /// <summary>The smallest ring capacity: 64 bytes.</summary>
    public const int MinCapacity = ChannelLayout.MinCapacity;

    /// <summary>The largest ring capacity: 1 GiB.</summary>
    public const int MaxCapacity = ChannelLayout.MaxCapacity;

    /// <summary>Bytes in the sidecar → host ring. Default 1 MiB.</summary>
    public int SidecarToHostCapacity { get; init; } = 1 << 20;

    /// <summary>Bytes in the host → sidecar ring. Default 1 MiB.</summary>
    public int HostToSidecarCapacity { get; init; } = 1 << 20;

    internal void Validate()
    {
        var problems = new List<string>();
        if (!ChannelLayout.IsValidCapacity(SidecarToHostCapacity))
        {
            problems.Add($"SidecarToHostCapacity is {SidecarToHostCapacity}: must be a power of two from {ChannelLayout.MinCapacity} to {ChannelLayout.MaxCapacity}");
        }

        if (!ChannelLayout.IsValidCapacity(HostToSidecarCapacity))
        {
            problems.Add($"HostToSidecarCapacity is {HostToSidecarCapacity}: must be a power of two from {ChannelLayout.MinCapacity} to {ChannelLayout.MaxCapacity}");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems));
        }
    }
}
