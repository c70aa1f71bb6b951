using System.Text;
using Google.Protobuf;
using Kaze.Protocol;
using Kaze.Service;

namespace Kaze.Plugin.Hello;

/// <summary>
/// Answers "hello" requests for this node with "&lt;greeting&gt; from &lt;ident&gt;" and marks every
/// other packet with the header "x-hello-plugin" = this node's ident.
/// </summary>
internal sealed class HelloMiddleware : IPacketMiddleware
{
    /// <summary>The body type this plugin answers.</summary>
    public const string BodyType = "hello";

    /// <summary>The body type of its answers.</summary>
    public const string AnswerBodyType = "hello.rsp";

    /// <summary>The header it adds to everything else.</summary>
    public const string HeaderName = "x-hello-plugin";

    private readonly Ident _self;
    // Made once: the answer and the mark are the same for every packet.
    private readonly byte[] _answer;
    private readonly ByteString _mark;

    public HelloMiddleware(HelloOptions options, Ident self)
    {
        _self = self;
        Answer = $"{options.Greeting} from {self}";
        _answer = Encoding.UTF8.GetBytes(Answer);
        _mark = ByteString.CopyFromUtf8(self.ToString());
    }

    /// <summary>The text of the answer.</summary>
    public string Answer { get; }

    public ValueTask InvokeAsync(PacketContext context, PacketDelegate next)
    {
        Hdr header = context.Header;
        if (header.BodyType == BodyType && header.RpcTypeCase == Hdr.RpcTypeOneofCase.Req && IsForThisNode(header))
        {
            // Answered here, back the way it came (to the local host, or to the peer sidecar);
            // the request goes no further. (A "hello" notify is not a request: it goes on.)
            if (header.ExpectsResponse)
            {
                Hdr response = Hdr.CreateResponse(header, RetCode.Ok, AnswerBodyType);
                response.SrcIdent = _self.Value;
                context.Replier.TrySend(Packet.Create(response, _answer));
            }

            context.Outcome = header.ExpectsResponse ? PacketOutcome.Answered : PacketOutcome.Dropped;
            return ValueTask.CompletedTask;
        }

        header.Headers[HeaderName] = _mark;
        return next(context);
    }

    private bool IsForThisNode(Hdr header) =>
        header.RouteTypeCase is Hdr.RouteTypeOneofCase.None or Hdr.RouteTypeOneofCase.DstIdent
        && (header.DstIdent == 0 || header.DstIdent == _self.Value);
}
