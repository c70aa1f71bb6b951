namespace Kaze.Http.Egress;

/// <summary>
/// YARP's HTTP client for the loopback port: instead of a connection to a server, each request
/// becomes an exchange over the mesh (<see cref="OutboundExchange"/>).
/// </summary>
internal sealed class MeshHttpHandler(HttpGateway gateway) : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        EgressTarget target = request.Options.TryGetValue(EgressTransformer.TargetKey, out EgressTarget? value)
            ? value
            : throw new InvalidOperationException("A request reached the mesh without its target.");
        return new OutboundExchange(gateway, target.Node).SendAsync(request, target.Version, cancellationToken);
    }
}
