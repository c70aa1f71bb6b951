namespace Kaze.Service;

/// <summary>A middleware as a class (resolved from DI by plugins): handle the packet, or pass it to the next step.</summary>
public interface IPacketMiddleware
{
    /// <summary>Processes one packet.</summary>
    ValueTask InvokeAsync(PacketContext context, PacketDelegate next);
}
