using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Kaze.Mesh;
using Kaze.Mesh.Tls;
using Kaze.Protocol;
using Kaze.Resolver;
using Kaze.Sidecar.Configuration;
using Microsoft.Win32.SafeHandles;

namespace Kaze.Cli.Commands;

/// <summary>
/// <c>kaze send --via HOST:PORT --to IDENT --type TYPE (--body TEXT | --body-file FILE)</c>: one
/// request through a running sidecar, as a peer of the mesh (<see cref="PeerClient"/>), and its
/// answer printed on stdout.
/// </summary>
/// <remarks>
/// The client connects to the sidecar's listen address with the corral's handshake, as ident
/// <c>--from</c>, and sends the request with srcIdent = that ident. The sidecar routes the request
/// like any packet from a peer, and the answer, addressed to the client's ident, comes back over the
/// same connection: the corral sends to an ident over the connection it has with it.
/// </remarks>
internal static class SendCommand
{
    /// <summary>The answer's RetCode is not OK.</summary>
    public const int NotOk = 1;

    /// <summary>No connection: cannot connect, handshake refused (secret, ident), or the connection was lost before the answer.</summary>
    public const int ConnectionFailed = 3;

    /// <summary>No answer within --timeout.</summary>
    public const int TimedOut = 4;

    /// <summary>The client's ident unless --from says otherwise: near the top of the ident space, where no node is likely to be.</summary>
    public static readonly Ident DefaultFrom = new(0xFFFF_FFFE);

    internal const int DefaultTimeoutMs = 5000;

    public static Command Create()
    {
        var via = new Option<string>("--via")
        {
            Description = "Required. The sidecar to send through: its listen address (the --listen of its `kaze run` or `kaze sidecar`).",
            HelpName = "HOST:PORT",
        };
        var to = new Option<string>("--to")
        {
            Description = "Required. The destination: the --via sidecar's own ident, or 0.0.0.0, for its host; or a service name the --via sidecar's node has (--name, docs/discovery.md), e.g. orders (another node's name is answered Unreachable). Another ident is relayed to that node, but its answer cannot find its way back to this client (it times out): send --via the destination's own sidecar.",
            HelpName = "IDENT|NAME",
        };
        var type = new Option<string>("--type")
        {
            Description = "Required. The request's body type: what the destination host handles, e.g. echo.",
            HelpName = "BODY_TYPE",
        };
        var body = new Option<string>("--body")
        {
            Description = "The request's body, as UTF-8 text. Give exactly one of --body and --body-file.",
            HelpName = "TEXT",
        };
        var bodyFile = new Option<string>("--body-file")
        {
            Description = "The request's body: the bytes of FILE, or of standard input for -.",
            HelpName = "FILE",
        };
        var timeout = new Option<string>("--timeout")
        {
            Description = $"How long to wait for the answer, in milliseconds (or a duration such as 2s); also the request's timeout, after which the sidecars stop waiting for it. Connecting has its own limits: 3 s to connect, 5 s for the handshake. [default: {DefaultTimeoutMs}]",
            HelpName = "MS",
        };
        var from = new Option<string>("--from")
        {
            Description = $"This client's ident in the mesh: the answer is addressed to it. Sends that run at the same time through one sidecar need different idents. [default: {DefaultFrom}]",
            HelpName = "IDENT",
        };
        var secretFile = new Option<string>("--secret-file")
        {
            Description = "A file holding the mesh's shared secret, when the --via sidecar requires one (its \"secretFile\" setting). [default: none; kaze.json is not read]",
            HelpName = "FILE",
        };
        var tls = new Option<string>("--tls")
        {
            Description = "A TLS directory (made by `kaze cert issue`: ca.crt, node.crt, node.key) when the --via sidecar runs with --tls: the connection is TLS 1.3 with this certificate, and the client's ident is the one it binds (--from may be left out). [default: none; kaze.json is not read]",
            HelpName = "DIR",
        };
        var headers = new Option<string[]>("--header")
        {
            Description = "A header of the request, KEY=VALUE (the value sent as UTF-8); repeat for more. [default: none]",
            HelpName = "KEY=VALUE",
            Arity = ArgumentArity.ZeroOrMore,
            AllowMultipleArgumentsPerToken = false,
        };

        var send = new Command(
            "send",
            "Send one request through a running sidecar and print the answer: its return code by name and number, source, body type, headers and body (text as it is; other bytes as base64). " +
            "Exit codes: 0 the answer is OK; 1 the answer has another return code (e.g. UNREACHABLE); 2 bad options; 3 no connection (cannot connect, handshake refused, connection lost); 4 no answer within --timeout.")
        {
            via, to, type, body, bodyFile, timeout, from, secretFile, tls, headers,
        };
        send.Action = new UsageCheckedAction("send", async (parse, ct) =>
        {
            var problems = new List<string>();
            SendRequest? request = SendRequest.Read(
                parse.GetValue(via),
                parse.GetValue(to),
                parse.GetValue(type),
                parse.GetValue(body),
                parse.GetValue(bodyFile),
                parse.GetValue(timeout),
                parse.GetValue(from),
                parse.GetValue(secretFile),
                parse.GetValue(headers) ?? [],
                parse.GetValue(tls),
                problems);
            return request is null ? UsageCheckedAction.Usage("send", problems) : await SendAsync(request, ct).ConfigureAwait(false);
        });
        return send;
    }

    internal static async Task<int> SendAsync(SendRequest request, CancellationToken ct)
    {
        var options = new CorralOptions { Secret = request.Secret, Tls = request.Tls };
        PeerClient client;
        try
        {
            client = await PeerClient.ConnectAsync(request.Via, request.From, options, ct).ConfigureAwait(false);
        }
        catch (PeerClientException e)
        {
            StandardError.WriteLine("kaze send: " + e.Message + Hint(e, request));
            return ConnectionFailed;
        }

        await using PeerClient disposeClient = client;
        uint sequence = (uint)Random.Shared.Next(1, int.MaxValue);
        Hdr header = Hdr.CreateRequest(request.To, request.BodyType, sequence, request.TimeoutMs);
        if (request.ToName is { } name)
        {
            header.DstName = new Hdr.Types.DstName { Name = name };
        }

        header.SrcIdent = request.From.Value;
        foreach ((string key, string value) in request.Headers)
        {
            header.Headers[key] = ByteString.CopyFromUtf8(value);
        }

        using Packet packet = Packet.Create(header, request.Body);
        long start = Stopwatch.GetTimestamp();
        try
        {
            await client.SendAsync(packet, ct).ConfigureAwait(false);
        }
        catch (PeerClientException e)
        {
            StandardError.WriteLine("kaze send: " + e.Message);
            return e.Failure == ConnectionFailure.FrameTooLarge ? CommandSettings.UsageError : ConnectionFailed;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(request.TimeoutMs));
        while (true)
        {
            Packet? received;
            try
            {
                received = await client.ReceiveAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                StandardOutput.WriteLine($"timeout: no answer from {request.ToName ?? request.To.ToString()} within {request.TimeoutMs} ms");
                return TimedOut;
            }
            catch (PeerClientException e)
            {
                StandardError.WriteLine("kaze send: " + e.Message);
                return ConnectionFailed;
            }

            if (received is null)
            {
                StandardError.WriteLine($"kaze send: the sidecar at {request.Via} ({client.PeerIdent}) closed the connection before the answer came (did another client connect with the same ident {request.From}? --from chooses another)");
                return ConnectionFailed;
            }

            using (received)
            {
                // Only the answer to this request counts; anything else addressed to the client's
                // ident (a late answer to an earlier send with the same ident) is not ours.
                if (received.Header.RpcTypeCase == Hdr.RpcTypeOneofCase.Rsp && received.Header.Rsp == sequence)
                {
                    ResponseText.Write(StandardOutput.Writer, received, Stopwatch.GetElapsedTime(start));
                    return received.Header.RetCode == (uint)RetCode.Ok ? 0 : NotOk;
                }
            }
        }
    }

    private static string Hint(PeerClientException e, SendRequest request) => e.Failure switch
    {
        ConnectionFailure.TlsFailed when request.Tls is null => "; the sidecar may require TLS: give --tls DIR",
        ConnectionFailure.AuthFailed when request.Secret is null => "; give the secret with --secret-file FILE",
        ConnectionFailure.BadHello when e.Message.Contains("own ident", StringComparison.Ordinal) => "; choose another with --from",
        _ => "",
    };
}

/// <summary>What <c>kaze send</c> was asked to do, checked: every problem with the options is listed at once.</summary>
internal sealed record SendRequest
{
    public required NodeAddress Via { get; init; }

    public required Ident To { get; init; }

    /// <summary>The service name of --to, or null when it is an ident.</summary>
    public string? ToName { get; init; }

    public required Ident From { get; init; }

    public required string BodyType { get; init; }

    public required byte[] Body { get; init; }

    public required uint TimeoutMs { get; init; }

    public byte[]? Secret { get; init; }

    public TlsCredentials? Tls { get; init; }

    public required IReadOnlyList<(string Key, string Value)> Headers { get; init; }

    /// <summary>The request, or null with every problem in <paramref name="problems"/>.</summary>
    public static SendRequest? Read(string? via, string? to, string? type, string? body, string? bodyFile, string? timeout, string? from, string? secretFile, string[] headers, string? tlsDir, List<string> problems)
    {
        NodeAddress viaAddress = default;
        if (via is null)
        {
            problems.Add("--via HOST:PORT is required: the listen address of the sidecar to send through");
        }
        else if (NodeAddress.TryParse(via, out NodeAddress? parsed, out string viaError))
        {
            viaAddress = parsed.Value;
        }
        else
        {
            problems.Add("--via: " + viaError);
        }

        Ident toIdent = default;
        string? toName = null;
        if (to is null)
        {
            problems.Add("--to IDENT or NAME is required: the destination node, or a service name");
        }
        else if (!Ident.TryParse(to, out toIdent, out string? toError))
        {
            // Digits and dots only: meant as an ident (a name made of them alone would read as a mistyped ident).
            if (to.All(c => char.IsAsciiDigit(c) || c == '.'))
            {
                problems.Add("--to: " + toError);
            }
            else if (ServiceName.IsValid(to, out string? nameError))
            {
                toName = to;
            }
            else
            {
                problems.Add($"--to: '{to}' is neither an ident ({toError}) nor a service name ({nameError})");
            }
        }

        TlsCredentials? credentials = null;
        if (tlsDir is not null)
        {
            credentials = TlsCredentials.Load(tlsDir, out List<string> tlsProblems);
            problems.AddRange(tlsProblems.Select(p => "--tls: " + p));
        }

        Ident fromIdent = credentials?.Current.Ident ?? SendCommand.DefaultFrom;
        if (credentials is not null && from is not null && Ident.TryParse(from, out Ident given) && given != fromIdent)
        {
            problems.Add($"--from {given}: the certificate in --tls {tlsDir} is for ident {fromIdent}; leave --from out or issue a certificate for {given}");
        }
        else if (from is not null)
        {
            if (!Ident.TryParse(from, out fromIdent, out string? fromError))
            {
                problems.Add("--from: " + fromError);
            }
            else if (fromIdent == Ident.Any)
            {
                problems.Add("--from: 0.0.0.0 cannot be a client's ident (as a destination it means \"the host of the sidecar that reads the packet\")");
            }
        }

        if (string.IsNullOrEmpty(type))
        {
            problems.Add("--type BODY_TYPE is required: the request's body type, e.g. echo");
        }

        byte[] bodyBytes = [];
        if (body is not null && bodyFile is not null)
        {
            problems.Add("--body and --body-file: give only one of them");
        }
        else if (body is not null)
        {
            bodyBytes = Encoding.UTF8.GetBytes(body);
        }
        else if (bodyFile is not null)
        {
            try
            {
                bodyBytes = bodyFile == "-" ? ReadStandardInput() : File.ReadAllBytes(bodyFile);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"--body-file: cannot read '{bodyFile}': {e.Message}");
            }
        }
        else
        {
            problems.Add("--body TEXT or --body-file FILE is required (--body \"\" for an empty body)");
        }

        uint timeoutMs = (uint)SendCommand.DefaultTimeoutMs;
        if (timeout is not null && !TryParseTimeout(timeout, out timeoutMs))
        {
            problems.Add($"--timeout: '{timeout}' is not a timeout: give milliseconds from 1 to {int.MaxValue}, e.g. 5000, or a duration such as 2s or 500ms");
        }

        byte[]? secret = null;
        if (secretFile is not null)
        {
            try
            {
                secret = CorralOptions.LoadSecret(secretFile);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                problems.Add("--secret-file: " + e.Message);
            }
        }

        var headerList = new List<(string, string)>(headers.Length);
        foreach (string header in headers)
        {
            int eq = header.IndexOf('=');
            if (eq <= 0)
            {
                problems.Add($"--header: '{header}' is not KEY=VALUE, e.g. trace-id=42");
                continue;
            }

            headerList.Add((header[..eq], header[(eq + 1)..]));
        }

        if (problems.Count > 0)
        {
            return null;
        }

        return new SendRequest
        {
            Via = viaAddress,
            To = toIdent,
            ToName = toName,
            From = fromIdent,
            BodyType = type!,
            Body = bodyBytes,
            TimeoutMs = timeoutMs,
            Secret = secret,
            Tls = credentials,
            Headers = headerList,
        };
    }

    /// <summary>"5000" is milliseconds; "2s", "500ms", "1m" are durations.</summary>
    private static bool TryParseTimeout(string text, out uint milliseconds)
    {
        milliseconds = 0;
        double ms;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long plain))
        {
            ms = plain;
        }
        else if (text.Length > 0 && char.IsAsciiLetter(text[^1]) && SettingValues.TryParseDuration(text, out TimeSpan duration, out _))
        {
            ms = Math.Ceiling(duration.TotalMilliseconds);
        }
        else
        {
            return false;
        }

        // CancelAfter takes an int of milliseconds.
        if (ms is < 1 or > int.MaxValue)
        {
            return false;
        }

        milliseconds = (uint)ms;
        return true;
    }

    // Not System.Console (see StandardError): file descriptor 0, as it is.
    private static byte[] ReadStandardInput()
    {
        using var input = new FileStream(new SafeFileHandle(0, ownsHandle: false), FileAccess.Read, 1, isAsync: false);
        using var copy = new MemoryStream();
        input.CopyTo(copy);
        return copy.ToArray();
    }
}

/// <summary>How <c>kaze send</c> prints an answer: a status line, fields, then the body after an empty line.</summary>
/// <remarks>
/// <code>
/// OK (0) from 0.0.0.2 in 1.3 ms
/// type: echo                (no line when the answer has no body type)
/// header trace-id: 42
/// body: 2 bytes, UTF-8 text
///
/// hi
/// </code>
/// A body (or header value) is printed as it is only if it is valid UTF-8 without control
/// characters other than tab and line breaks; anything else is printed as base64, and says so.
/// </remarks>
internal static class ResponseText
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static void Write(TextWriter output, Packet response, TimeSpan elapsed)
    {
        Hdr header = response.Header;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{RetCodeName(header.RetCode)} ({header.RetCode}) from {new Ident(header.SrcIdent)} in {elapsed.TotalMilliseconds:0.0} ms\n");
        if (header.BodyType.Length > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"type: {header.BodyType}\n");
        }

        foreach (KeyValuePair<string, ByteString> pair in header.Headers.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            string value = TryText(pair.Value.Span, out string? asText) && !asText.Contains('\n', StringComparison.Ordinal)
                ? asText
                : "base64:" + Convert.ToBase64String(pair.Value.Span);
            text.Append(CultureInfo.InvariantCulture, $"header {pair.Key}: {value}\n");
        }

        ReadOnlySpan<byte> body = response.BodySpan;
        if (body.IsEmpty)
        {
            text.Append("body: empty\n");
        }
        else if (TryText(body, out string? bodyText))
        {
            text.Append(CultureInfo.InvariantCulture, $"body: {body.Length} bytes, UTF-8 text\n\n").Append(bodyText);
            if (!bodyText.EndsWith('\n'))
            {
                text.Append('\n');
            }
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture, $"body: {body.Length} bytes, not text (invalid UTF-8 or control characters), as base64\n\n")
                .Append(Convert.ToBase64String(body)).Append('\n');
        }

        output.Write(text.ToString());
    }

    /// <summary>OK, UNREACHABLE, RESOURCE_EXHAUSTED…: the RetCode's name in upstream's style; UNKNOWN for a code this version does not know.</summary>
    public static string RetCodeName(uint code)
    {
        if (!Enum.IsDefined((RetCode)code))
        {
            return "UNKNOWN";
        }

        string name = ((RetCode)code).ToString();
        var snake = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]))
            {
                snake.Append('_');
            }

            snake.Append(char.ToUpperInvariant(name[i]));
        }

        return snake.ToString();
    }

    private static bool TryText(ReadOnlySpan<byte> bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        text = null;
        string decoded;
        try
        {
            decoded = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        foreach (char c in decoded)
        {
            // Control characters would reach the terminal as commands (escape sequences).
            if (char.IsControl(c) && c is not ('\t' or '\n' or '\r'))
            {
                return false;
            }
        }

        text = decoded;
        return true;
    }
}
