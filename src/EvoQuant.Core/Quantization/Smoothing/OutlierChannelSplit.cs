using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Smoothing;

/// <summary>What the outlier split did: the float model with the split applied (computes what the original
/// does), the exact ranges of the inputs with their outlier channels zeroed, and the nodes that stay float.</summary>
/// <param name="Ranges">Per split input: the extremes of its remaining channels and 0.</param>
/// <param name="QuantizedReaders">Per split input, the outputs of the split MatMuls: the only readers of its
/// 8-bit values (its outlier channels clip there); every other reader reads it in float.</param>
/// <param name="FloatOutputs">Outputs of the nodes that compute the outlier channels (they stay float).</param>
/// <param name="Channels">Per split tensor of the original model, the outlier channels computed in float.</param>
public sealed record OutlierSplitResult(OnnxModel Model, IReadOnlyDictionary<string, ActivationRange> Ranges, IReadOnlySet<string> FloatOutputs,
    IReadOnlyDictionary<string, IReadOnlySet<string>> QuantizedReaders, IReadOnlyDictionary<string, int[]> Channels)
{
    /// <summary>The line of TargetDecisions that says what was split, or null when nothing was.</summary>
    public string? Decision => Channels.Count == 0 ? null
        : $"outlier split: {Channels.Values.Sum(c => c.Length)} outlier channels of {Channels.Count} MatMul inputs computed in float "
          + $"({string.Join(", ", Channels.Select(kv => $"{kv.Key}: {kv.Value.Length}"))}), the rest quantized with the remaining channels' range";
}

/// <summary>LLM.int8()-style outlier split, static (Dettmers et al., 2022): where a few input channels of a
/// MatMul with a constant weight carry calibrated extremes far above the others (a transformer's GELU and
/// LayerNorm outputs), those channels are gathered and multiplied by their weight rows in float, and the
/// weight's rows of those channels are zeroed; the input is quantized with the range of the remaining
/// channels, which 8 bits per tensor hold (the outlier channels clip, against zero rows), for the split
/// MatMuls only. Which ops can be split comes from the registry.</summary>
public static class OutlierChannelSplit
{
    /// <summary>The outlier channels of a tensor, largest |max| first: those whose |max| exceeds
    /// <paramref name="ratio"/> times the median channel's, at most <paramref name="maxChannels"/>.</summary>
    public static int[] OutlierChannels(ChannelRange range, double ratio, int maxChannels)
    {
        ArgumentNullException.ThrowIfNull(range);
        if (range.Rows == 0 || maxChannels < 1) return Array.Empty<int>();
        var abs = Enumerable.Range(0, range.Channels).Select(range.AbsMax).ToArray();
        var sorted = abs.Order().ToArray();
        double threshold = ratio * sorted[sorted.Length / 2];
        if (!(threshold > 0)) return Array.Empty<int>();
        return Enumerable.Range(0, abs.Length).Where(j => abs[j] > threshold).OrderByDescending(j => abs[j]).Take(maxChannels).ToArray();
    }

    /// <summary>The split float model (<paramref name="model"/> itself when no input has outliers).</summary>
    public static OutlierSplitResult Split(OnnxModel model, OutlierSplitOptions options, OpQuantizerRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        if (!(options.Ratio > 1)) throw new ArgumentOutOfRangeException(nameof(options), $"The outlier ratio must exceed 1; got {options.Ratio}.");
        // Nothing to split without measured channel ranges (every static default quantization comes here), and
        // Gather's negative axis (the last, whatever the rank) needs opset 11: both checked before the model is copied.
        if (options.ChannelRanges.Count == 0 || model.DefaultOpset < 11)
            return new OutlierSplitResult(model, new Dictionary<string, ActivationRange>(), new HashSet<string>(),
                new Dictionary<string, IReadOnlySet<string>>(), new Dictionary<string, int[]>());
        var proto = model.CloneProto();
        var scaling = new ChannelScaling(model, proto.Graph, registry ?? OpQuantizerRegistry.Default);
        var view = scaling.View;
        var ranges = new Dictionary<string, ActivationRange>(StringComparer.Ordinal);
        var channels = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var floatNodes = new List<NodeProto>();
        var readers = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        var inserted = new List<(int Position, int Order, NodeProto Node)>();
        var order = view.Proto.Node.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, ReferenceEqualityComparer.Instance);

        foreach (var (x, k) in ActivationSmoothing.Candidates(model))
        {
            if (!options.ChannelRanges.TryGetValue(x, out var range) || range.Channels != k || view.IsGraphOutput(x)) continue;
            var outliers = OutlierChannels(range, options.Ratio, options.MaxChannels);
            if (outliers.Length == 0) continue;
            var split = view.Consumers(x).Where(n => string.IsNullOrEmpty(n.Domain) && n.Input.Count > 0 && n.Input[0] == x
                && scaling.Registry.ChannelSplitter(n.OpType) is { } s && s.CanSplit(n, k, scaling)).ToList();
            if (split.Count == 0) continue;

            int first = split.Min(n => order[n]);
            // The input itself takes the remaining channels' range: its outlier channels clip in 8 bits, against
            // zero weight rows. Only the split MatMuls read it quantized (QuantizedReaders): the float part and
            // any other reader (a residual Add) read its float values.
            string gathered = scaling.TakeName(x + "_outlier_channels");
            var gather = new NodeProto { OpType = "Gather", Name = scaling.TakeName(x + "_GatherOutliers") };
            gather.Input.Add(x);
            gather.Input.Add(scaling.AddConstant(TensorData.FromArray<long>(scaling.TakeName(x + "_outlier_indices"), ElementTypes.Int64,
                new long[] { outliers.Length }, outliers.Select(j => (long)j).ToArray())));
            gather.Output.Add(gathered);
            gather.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
            floatNodes.Add(gather);
            // Right before the first reader: every reader comes after the tensor's producer.
            inserted.Add((first, 1, gather));
            foreach (var n in split)
            {
                var after = scaling.Registry.ChannelSplitter(n.OpType)!.Split(n, outliers, gathered, scaling, floatNodes);
                for (int i = 0; i < after.Count; i++) inserted.Add((order[n] + 1, i, after[i]));
            }
            ranges[x] = Remaining(range, outliers);
            readers[x] = split.Select(n => n.Output[0]).ToHashSet(StringComparer.Ordinal);
            channels[x] = outliers;
        }
        if (channels.Count == 0) return new OutlierSplitResult(model, ranges, new HashSet<string>(), readers, channels);

        // Inserted from the last position back, each group in its order, keeping the node list topologically sorted.
        foreach (var group in inserted.GroupBy(p => p.Position).OrderByDescending(g => g.Key))
            foreach (var (_, _, node) in group.OrderByDescending(p => p.Order))
                proto.Graph.Node.Insert(group.Key, node);
        GraphEdits.RemoveReplacedConstants(proto.Graph, proto.Graph.Node, scaling.Replaced);
        var floatOutputs = floatNodes.SelectMany(n => n.Output).ToHashSet(StringComparer.Ordinal);
        return new OutlierSplitResult(model.With(proto), ranges, floatOutputs, readers, channels);
    }

    // The exact range of the input with the outlier channels zeroed: the other channels' extremes, and 0.
    private static ActivationRange Remaining(ChannelRange range, int[] outliers)
    {
        var skip = outliers.ToHashSet();
        float min = 0, max = 0;
        for (int j = 0; j < range.Channels; j++)
        {
            if (skip.Contains(j) || range.Min[j] > range.Max[j]) continue;
            min = Math.Min(min, range.Min[j]);
            max = Math.Max(max, range.Max[j]);
        }
        return new ActivationRange(min, max);
    }
}
