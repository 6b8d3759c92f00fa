using System.Text.Json;

namespace EvoQuant.Evaluation;

/// <summary>One node as ONNX Runtime ran it (after its graph optimizations: a fused QLinearConv, a
/// QuantizeLinear left standing, a reorder it inserted) and its median kernel time over the timed runs.</summary>
/// <param name="Node">The runtime's node name (the profile's event name without "_kernel_time").</param>
/// <param name="OpType">The op type that ran (the event's args.op_name).</param>
/// <param name="MedianMicroseconds">Median of the node's kernel times over the timed runs, in microseconds.</param>
/// <param name="Runs">Timed runs the node appeared in.</param>
public sealed record RuntimeNodeTime(string Node, string OpType, double MedianMicroseconds, int Runs)
{
    /// <summary>The node's input tensors in the optimized graph (empty when only the profile was read).</summary>
    public IReadOnlyList<string> Inputs { get; init; } = Array.Empty<string>();

    /// <summary>The node's output tensors in the optimized graph (empty when only the profile was read).</summary>
    public IReadOnlyList<string> Outputs { get; init; } = Array.Empty<string>();
}

/// <summary>ONNX Runtime's per-node profile of one model at one batch size: the medians of each node's
/// kernel time over several runs, warm-up runs left out.</summary>
/// <param name="BatchSize">Rows per run.</param>
/// <param name="Runs">Timed runs (after the warm-up).</param>
/// <param name="Nodes">Every node that ran, in the order of its first event.</param>
public sealed record RuntimeProfile(int BatchSize, int Runs, IReadOnlyList<RuntimeNodeTime> Nodes)
{
    private const string KernelSuffix = "_kernel_time";

    /// <summary>This profile with each node's inputs and outputs as the optimized graph that ran has them
    /// (ONNX Runtime's profile names the nodes of that graph). Nodes the graph does not have keep none.</summary>
    public RuntimeProfile WithGraph(Onnx.Proto.GraphProto optimized)
    {
        ArgumentNullException.ThrowIfNull(optimized);
        var byName = new Dictionary<string, Onnx.Proto.NodeProto>(StringComparer.Ordinal);
        foreach (var n in optimized.Node) byName.TryAdd(n.Name, n);
        return this with
        {
            Nodes = Nodes.Select(t => byName.TryGetValue(t.Node, out var n)
                ? t with { Inputs = n.Input.Where(i => i.Length > 0).ToList(), Outputs = n.Output.Where(o => o.Length > 0).ToList() }
                : t).ToList(),
        };
    }

    /// <summary>Sum of the node medians, in microseconds: the run's kernel time without the runtime's own overhead.</summary>
    public double TotalMicroseconds => Nodes.Sum(n => n.MedianMicroseconds);

    /// <summary>Reads the JSON that <c>InferenceSession.EndProfiling</c> writes: a list of trace events, of which
    /// the "Node" events named "&lt;node&gt;_kernel_time" carry each kernel's duration ("dur", microseconds) and
    /// its op type (args.op_name). Each node's first <paramref name="warmupRuns"/> events are the warm-up.</summary>
    /// <exception cref="FormatException">The text is not such a list.</exception>
    public static RuntimeProfile Parse(string json, int batchSize, int warmupRuns)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupRuns);
        var times = new Dictionary<string, (string Op, List<double> Durations)>(StringComparer.Ordinal);
        var order = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) throw new FormatException("An ONNX Runtime profile is a JSON array of events.");
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object
                    || !e.TryGetProperty("cat", out var cat) || cat.GetString() != "Node"
                    || !e.TryGetProperty("name", out var nameProp) || nameProp.GetString() is not { } name
                    || !name.EndsWith(KernelSuffix, StringComparison.Ordinal)
                    || !e.TryGetProperty("dur", out var dur)) continue;
                string node = name[..^KernelSuffix.Length];
                string op = e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var o) ? o.GetString() ?? "" : "";
                if (!times.TryGetValue(node, out var entry))
                {
                    times[node] = entry = (op, new List<double>());
                    order.Add(node);
                }
                entry.Durations.Add(dur.GetDouble());
            }
        }
        catch (JsonException e)
        {
            throw new FormatException("The ONNX Runtime profile is not valid JSON: " + e.Message, e);
        }
        var nodes = new List<RuntimeNodeTime>(order.Count);
        int runs = 0;
        foreach (var node in order)
        {
            var (op, all) = times[node];
            var timed = all.Skip(warmupRuns).ToArray();
            if (timed.Length == 0) continue;
            Array.Sort(timed);
            runs = Math.Max(runs, timed.Length);
            nodes.Add(new RuntimeNodeTime(node, op, TimingStats.Quantile(timed, 0.5), timed.Length));
        }
        return new RuntimeProfile(batchSize, runs, nodes);
    }
}
