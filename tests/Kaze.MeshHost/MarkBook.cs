using System.Text;
using Kaze.Host;
using Kaze.Protocol;

namespace Kaze.MeshHost;

/// <summary>Every <c>mark</c> packet this host received, by tag: who sent it and whether it was a request or a notify.</summary>
internal sealed class MarkBook
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<string>> _byTag = new(StringComparer.Ordinal);

    /// <summary>The handler: records the packet, answers (a request) with this node's ident, after <paramref name="delay"/> if one is given.</summary>
    public Func<KazeRequest, CancellationToken, ValueTask<KazeReply>> Handle(Ident self, TimeSpan? delay = null)
    {
        byte[] answer = Encoding.UTF8.GetBytes(self.ToString());
        return (request, ct) =>
        {
            Record(Encoding.UTF8.GetString(request.Body.Span), $"{request.Source}/{(request.ExpectsResponse ? "request" : "notify")}");
            return delay is { } wait ? AnswerLaterAsync(wait, ct) : ValueTask.FromResult(KazeReply.Ok(answer, Node.MarkBodyType));
        };

        async ValueTask<KazeReply> AnswerLaterAsync(TimeSpan wait, CancellationToken ct)
        {
            await Task.Delay(wait, ct);
            return KazeReply.Ok(answer, Node.MarkBodyType);
        }
    }

    private void Record(string tag, string entry)
    {
        lock (_gate)
        {
            if (!_byTag.TryGetValue(tag, out List<string>? entries))
            {
                _byTag[tag] = entries = [];
            }

            entries.Add(entry);
        }
    }

    /// <summary>"count=N from=a/notify,b/request" (sorted), or "count=0 from=none".</summary>
    public string Describe(string tag)
    {
        lock (_gate)
        {
            List<string> entries = _byTag.TryGetValue(tag, out List<string>? found) ? [.. found] : [];
            entries.Sort(StringComparer.Ordinal);
            return $"count={entries.Count} from={(entries.Count == 0 ? "none" : string.Join(',', entries))}";
        }
    }
}
