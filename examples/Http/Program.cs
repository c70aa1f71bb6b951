// A minimal ASP.NET Core app that joins the mesh through its sidecar without knowing about it:
// it serves HTTP on its own port (`kaze run --app-port`), and calls other nodes' apps at
// http://127.0.0.1:$KAZE_HTTP_PORT/<ident>/<path> (`kaze run --http-port`). See README.md.
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
WebApplication app = builder.Build();

string node = Environment.GetEnvironmentVariable("KAZE_IDENT") ?? "(not under kaze)";
string? meshPort = Environment.GetEnvironmentVariable("KAZE_HTTP_PORT");
using var mesh = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{meshPort ?? "0"}/") };

app.MapGet("/", () => $"Hello from the ASP.NET Core app of node {node}.\n");

// GET /ask/<ident>/<path>: this app asks another node's app, over the mesh, and passes the answer on.
app.MapGet("/ask/{ident}/{**path}", async (string ident, string? path, HttpContext context) =>
{
    if (meshPort is null)
    {
        return Results.Problem("KAZE_HTTP_PORT is not set: start this app with `kaze run --http-port PORT -- ...`", statusCode: 500);
    }

    using HttpResponseMessage response = await mesh.GetAsync($"{ident}/{path}", context.RequestAborted);
    string body = await response.Content.ReadAsStringAsync(context.RequestAborted);
    return Results.Text($"node {ident} answered {(int)response.StatusCode}:\n{body}");
});

app.Run();
