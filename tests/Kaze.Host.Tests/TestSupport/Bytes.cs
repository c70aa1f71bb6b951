using System.Text;

namespace Kaze.Host.Tests.TestSupport;

internal static class Bytes
{
    public static byte[] Of(string text) => Encoding.UTF8.GetBytes(text);

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    /// <summary>Echoes the request's body back: the handler most tests use.</summary>
    public static ValueTask<KazeReply> Echo(KazeRequest request, CancellationToken ct) =>
        ValueTask.FromResult(KazeReply.Ok(request.Body, "echo"));
}
