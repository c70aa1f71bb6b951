namespace Kaze.Host.Hosting;

/// <summary>A handler resolved from dependency injection (see <see cref="IKazeHostBuilder.AddHandler{THandler}"/>).</summary>
public interface IKazeHandler
{
    /// <summary>Handles one request or notify; see <see cref="KazeClient.AddHandler"/> for the rules.</summary>
    /// <param name="request">The request; its body is valid until the returned task completes.</param>
    /// <param name="cancellationToken">Cancelled when the client is disposed.</param>
    /// <returns>The reply: the response to a request, discarded for a notify.</returns>
    ValueTask<KazeReply> HandleAsync(KazeRequest request, CancellationToken cancellationToken);
}
