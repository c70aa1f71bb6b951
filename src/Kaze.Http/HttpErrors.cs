using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Kaze.Protocol;
using Microsoft.AspNetCore.Http;

namespace Kaze.Http;

/// <summary>
/// The errors kaze itself answers with (docs/http.md, "Errors"): a status and a small JSON body,
/// <c>{"error": NAME, "retCode": N, "node": IDENT, "message": TEXT}</c> (<c>retCode</c> and
/// <c>node</c> only where they apply), with <c>Kaze-Error: NAME</c> so a client can tell kaze's
/// 502 from its app's.
/// </summary>
internal static class HttpErrors
{
    /// <summary>The response header that marks an answer kaze made itself.</summary>
    public const string Header = "Kaze-Error";

    /// <summary>The status and error name for a Kaze RetCode that is not OK.</summary>
    public static (int Status, string Name) ForRetCode(uint code) => (RetCode)code switch
    {
        RetCode.Unreachable => (StatusCodes.Status502BadGateway, "UNREACHABLE"),
        RetCode.Timeout => (StatusCodes.Status504GatewayTimeout, "TIMEOUT"),
        RetCode.ResourceExhausted => (StatusCodes.Status429TooManyRequests, "RESOURCE_EXHAUSTED"),
        RetCode.NoHandler => (StatusCodes.Status502BadGateway, "NO_HANDLER"),
        RetCode.HandlerFailed => (StatusCodes.Status502BadGateway, "HANDLER_FAILED"),
        _ => (StatusCodes.Status502BadGateway, "RET_" + code.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    };

    /// <summary>What a RetCode means for an HTTP exchange, in a few words.</summary>
    public static string Explain(uint code, Ident node) => (RetCode)code switch
    {
        RetCode.Unreachable => $"no route to {node}, or it could not be reached",
        RetCode.Timeout => $"no response from {node} in time",
        RetCode.ResourceExhausted => "a limit was hit (rate limit, full queue or too many exchanges); try again later",
        RetCode.NoHandler => $"{node} does not serve this (no HTTP gateway there, or no handler for the body type)",
        RetCode.HandlerFailed => $"the handler on {node} failed",
        _ => $"{node} answered with RetCode {code}",
    };

    public static byte[] Json(string error, string message, uint? retCode = null, Ident? node = null)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("error", error);
            if (retCode is { } code)
            {
                json.WriteNumber("retCode", code);
            }

            if (node is { } ident)
            {
                json.WriteString("node", ident.ToString());
            }

            json.WriteString("message", message);
            json.WriteEndObject();
        }

        System.Buffers.BuffersExtensions.Write(buffer, "\n"u8);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The error for a RetCode as a response message (what the egress forwarder copies to the client).</summary>
    public static HttpResponseMessage Message(uint retCode, Ident node)
    {
        (int status, string name) = ForRetCode(retCode);
        return Message(status, name, Json(name, Explain(retCode, node), retCode, node));
    }

    public static HttpResponseMessage Message(int status, string name, byte[] json)
    {
        var message = new HttpResponseMessage((HttpStatusCode)status) { Content = new ByteArrayContent(json) };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation(Header, name);
        if (status == StatusCodes.Status429TooManyRequests || status == StatusCodes.Status503ServiceUnavailable)
        {
            message.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(1));
        }

        return message;
    }

    /// <summary>Writes an error as the response of <paramref name="context"/> (which must not have started).</summary>
    public static Task WriteAsync(HttpContext context, int status, string name, string message, uint? retCode = null, Ident? node = null)
    {
        byte[] json = Json(name, message, retCode, node);
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.Headers.ContentType = "application/json";
        response.Headers.ContentLength = json.Length;
        response.Headers[Header] = name;
        if (status == StatusCodes.Status429TooManyRequests || status == StatusCodes.Status503ServiceUnavailable)
        {
            response.Headers.RetryAfter = "1";
        }

        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.Body.WriteAsync(json).AsTask();
    }
}
