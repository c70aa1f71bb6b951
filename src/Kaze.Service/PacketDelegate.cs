namespace Kaze.Service;

/// <summary>One step of the packet pipeline: handle the packet in <paramref name="context"/>, or pass it on.</summary>
/// <remarks>
/// Like ASP.NET Core's RequestDelegate. A step that completes synchronously costs no allocation;
/// a step that awaits (a rate limit, a plugin calling out) holds up only its own packet: the
/// callers of the pipeline do not wait for one packet before starting the next.
/// </remarks>
public delegate ValueTask PacketDelegate(PacketContext context);
