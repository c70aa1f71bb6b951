using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Kaze.Host;
using Kaze.Protocol;
using Kaze.TestHttpApp;
using Kaze.TestHttpApp.Greet;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The app behind a sidecar in the HTTP tests: `Kaze.TestHttpApp --port P [--protocols http1|http2]`.
// Prints "ready PID" once it listens. Under `kaze run` it is also a Kaze host (handler "greet";
// GET /kaze/http calls another node's app with an `http` packet).
int port = 0;
HttpProtocols protocols = HttpProtocols.Http1;
for (int i = 0; i < args.Length - 1; i++)
{
    switch (args[i])
    {
        case "--port":
            port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--protocols":
            protocols = args[++i] == "http2" ? HttpProtocols.Http2 : HttpProtocols.Http1;
            break;
    }
}

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxRequestBodySize = null;
    k.RequestHeaderEncodingSelector = _ => Encoding.Latin1;
    k.ResponseHeaderEncodingSelector = _ => Encoding.Latin1;
    k.ListenLocalhost(port, l => l.Protocols = protocols);
});
builder.Services.AddGrpc();
WebApplication app = builder.Build();
long requests = 0;
// How far the last /bytes?progress=1 got: the bytes its writes had completed.
long progress = 0;
app.Use((context, next) =>
{
    if (context.Request.Path != "/count")
    {
        Interlocked.Increment(ref requests);
    }

    return next(context);
});

app.MapGrpcService<GreeterService>();
app.MapGet("/count", () => Interlocked.Read(ref requests).ToString(CultureInfo.InvariantCulture));
app.MapGet("/progress", () => Interlocked.Read(ref progress).ToString(CultureInfo.InvariantCulture));

// n bytes of Pattern, with Content-Length unless ?chunked=1; ?pause-ms=N waits N ms after each 64 KiB (a slow server);
// ?progress=1 reports in /progress how many bytes the writes have completed.
app.MapGet("/bytes/{n:long}", async (HttpContext context, long n) =>
{
    bool chunked = context.Request.Query["chunked"] == "1";
    bool report = context.Request.Query["progress"] == "1";
    int pause = int.TryParse(context.Request.Query["pause-ms"], out int ms) ? ms : 0;
    if (!chunked)
    {
        context.Response.ContentLength = n;
    }

    context.Response.ContentType = "application/octet-stream";
    byte[] buffer = new byte[64 * 1024];
    for (long at = 0; at < n;)
    {
        int count = (int)Math.Min(buffer.Length, n - at);
        Pattern.Fill(buffer.AsSpan(0, count), at);
        await context.Response.Body.WriteAsync(buffer.AsMemory(0, count));
        at += count;
        if (report)
        {
            Interlocked.Exchange(ref progress, at);
        }

        if (pause > 0)
        {
            await Task.Delay(pause);
        }
    }
});

// "<sha256 hex> <length>" of the request body.
app.MapPost("/sha256", async (HttpContext context) =>
{
    using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    byte[] buffer = new byte[64 * 1024];
    long length = 0;
    int read;
    while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
    {
        sha.AppendData(buffer, 0, read);
        length += read;
    }

    return Convert.ToHexStringLower(sha.GetHashAndReset()) + " " + length.ToString(CultureInfo.InvariantCulture);
});

app.MapPost("/echo", async (HttpContext context) =>
{
    context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
    if (context.Request.ContentLength is long length)
    {
        context.Response.ContentLength = length;
    }

    await context.Request.Body.CopyToAsync(context.Response.Body);
});

app.MapGet("/slow/{ms:int}", async (int ms) =>
{
    await Task.Delay(ms);
    return "slow";
});

// Announces 2n bytes, sends n, then waits for GET /die, which ends the process: a crash in the
// middle of a response, at a moment the test chooses. Without a /die within 60 s it dies anyway.
var die = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
app.MapGet("/crash/{n:int}", async (HttpContext context, int n) =>
{
    context.Response.ContentLength = 2L * n;
    byte[] half = new byte[n];
    Pattern.Fill(half, 0);
    await context.Response.Body.WriteAsync(half);
    await context.Response.Body.FlushAsync();
    await die.Task.WaitAsync(TimeSpan.FromSeconds(60)).ContinueWith(_ => { });
    Environment.FailFast("crash requested by /crash and /die");
});
app.MapGet("/die", () =>
{
    die.TrySetResult();
    return "dying";
});

// The request as the app saw it: "protocol: X", "method: X", "path: X", then each field, one per line, sorted.
app.MapGet("/headers", (HttpContext context) =>
{
    var lines = new List<string>();
    foreach (var header in context.Request.Headers)
    {
        lines.Add(header.Key.ToLowerInvariant() + ": " + header.Value);
    }

    lines.Sort(StringComparer.Ordinal);
    return $"protocol: {context.Request.Protocol}\nmethod: {context.Request.Method}\npath: {context.Request.Path}{context.Request.QueryString}\n" + string.Join('\n', lines) + "\n";
});

// A response with trailers (HTTP/2 only).
app.MapGet("/trailers", async (HttpContext context) =>
{
    context.Response.DeclareTrailer("x-sum");
    await context.Response.WriteAsync("body");
    context.Response.AppendTrailer("x-sum", "42");
});

KazeClient? kaze = null;
if (Environment.GetEnvironmentVariable("KAZE_CHANNEL") is not null)
{
    kaze = KazeClient.ConnectFromEnvironment();
    // A Kaze handler the HTTP side reaches with Kaze-Body-Type: greet.
    kaze.AddHandler("greet", (request, _) =>
    {
        var headers = new Dictionary<string, ByteString>
        {
            [":status"] = ByteString.CopyFromUtf8("201"),
            ["content-type"] = ByteString.CopyFromUtf8("text/plain"),
            ["x-greeted-by"] = ByteString.CopyFromUtf8(Environment.GetEnvironmentVariable("KAZE_IDENT") ?? ""),
        };
        byte[] body = Encoding.UTF8.GetBytes("hello " + Encoding.UTF8.GetString(request.Body.Span));
        return ValueTask.FromResult(new KazeReply(RetCode.Ok, body, "greet", headers));
    });
    kaze.Start();

    // This host calls another node's HTTP app with one `http` packet: "code status\n<body>".
    app.MapGet("/kaze/http", async (HttpContext context) =>
    {
        var to = Ident.Parse(context.Request.Query["to"].ToString());
        var headers = new Dictionary<string, ByteString>
        {
            [":method"] = ByteString.CopyFromUtf8("GET"),
            [":path"] = ByteString.CopyFromUtf8(context.Request.Query["path"].ToString()),
        };
        KazeResponse response = await kaze.CallAsync(to, "http", ReadOnlyMemory<byte>.Empty, TimeSpan.FromSeconds(10), headers);
        string status = response.Headers.TryGetValue(":status", out ByteString? value) ? value.ToStringUtf8() : "-";
        return $"{response.Code} {status}\n{Encoding.UTF8.GetString(response.Body.Span)}";
    });
}

await app.StartAsync();
// "ready PID KAZE_HTTP_PORT" ("-" when there is none): the tests learn the port from here.
Console.WriteLine("ready " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + " " + (Environment.GetEnvironmentVariable("KAZE_HTTP_PORT") ?? "-"));
await app.WaitForShutdownAsync(kaze?.ExitRequested ?? default);
if (kaze is not null)
{
    await kaze.DisposeAsync();
}

namespace Kaze.TestHttpApp
{
    /// <summary>The bytes of /bytes/N: byte i is a function of i alone, so a test can check any length without a file.</summary>
    public static class Pattern
    {
        public static void Fill(Span<byte> buffer, long offset)
        {
            for (int i = 0; i < buffer.Length; i++)
            {
                long at = offset + i;
                buffer[i] = (byte)((at * 131) ^ (at >> 9));
            }
        }
    }

    internal sealed class GreeterService : Greeter.GreeterBase
    {
        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
        {
            if (request.Name.StartsWith("fail:", StringComparison.Ordinal))
            {
                var code = (StatusCode)int.Parse(request.Name["fail:".Length..], CultureInfo.InvariantCulture);
                throw new RpcException(new Status(code, "asked to fail"));
            }

            return Task.FromResult(new HelloReply { Message = "Hello " + request.Name });
        }
    }
}
