using EvoQuant.Numerics;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;

namespace EvoQuant.Quantization.Logarithmic;

/// <summary>
/// Stores the constant weights of Conv, ConvTranspose, MatMul and Gemm as logarithmic codes that ONNX Runtime
/// decodes with a small subgraph of constants, so the file shrinks and inference computes in float as before:
/// codes -> float (Cast; int4 codes need opset 21, to which the model is raised when it can be) ->
/// sign(c) * 2^((1 - |c|) / f) * scale, written under the weight's own name so its consumers are unchanged.
/// Every input of the subgraph is constant: ONNX Runtime folds it at load. A model that cannot be raised to
/// opset 21 gets its int4 codes through com.microsoft DequantizeLinear, which ONNX Runtime does not fold (the
/// decode then runs on every call; a warning says so).
/// </summary>
public static class LogWeightQuantizer
{
    /// <param name="bitsFor">The code width for a node's weight, or null to leave the node alone; default:
    /// <see cref="LogWeightOptions.Bits"/> for every Conv, ConvTranspose, MatMul and Gemm.</param>
    public static LogWeightResult Quantize(OnnxModel model, LogWeightOptions options, Func<NodeProto, int?>? bitsFor = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        bitsFor ??= _ => options.Bits;
        var warnings = new List<string>();
        var proto = model.CloneProto();
        bool castInt4 = WeightOnly.Opset21Upgrade.Blocker(proto) == null;
        var g = proto.Graph;
        var names = g.Node.SelectMany(n => n.Input.Concat(n.Output)).Concat(g.Initializer.Select(t => t.Name))
            .Concat(g.Input.Select(i => i.Name)).ToHashSet(StringComparer.Ordinal);
        string Fresh(string stem)
        {
            string name = stem;
            for (int k = 1; !names.Add(name); k++) name = $"{stem}_{k}";
            return name;
        }

        var initializers = g.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var done = new HashSet<string>(StringComparer.Ordinal);
        var reports = new List<LogWeightReport>();
        var decode = new List<NodeProto>();
        long before = 0, after = 0;
        string? one = null, two = null, unit = null;
        var perStep = new Dictionary<int, string>();
        bool usesContribDecode = false;
        foreach (var node in g.Node.ToList())
        {
            if (WeightAxis(node) is not int axis || node.Input.Count < 2 || bitsFor(node) is not int bits) continue;
            if (bits is not (4 or 8)) throw new ArgumentOutOfRangeException(nameof(bitsFor), bits, "Logarithmic codes are stored in 4 or 8 bits.");
            string w = node.Input[1];
            if (!initializers.TryGetValue(w, out var t) || t.DataType != ElementTypes.Float || !done.Add(w)) continue;
            var data = model.GetFloats(initializers[w]);
            var dims = t.Dims.ToArray();
            if (data.Length < 16) continue;
            if (axis < 0) axis += dims.Length;
            int? channelAxis = options.PerChannel && axis >= 0 && axis < dims.Length ? axis : null;
            int steps = options.StepsPerOctave ?? LogQuantizer.BestStepsPerOctave(data, dims, channelAxis, bits);
            var (codes, scales) = LogQuantizer.Encode(data, dims, channelAxis, bits, steps);

            one ??= AddScalar(g, Fresh("log_weights_one"), 1f);
            two ??= AddScalar(g, Fresh("log_weights_two"), 2f);
            string codeName = Fresh(w + "_logcodes"), scaleName = Fresh(w + "_logscale");
            var scaleDims = dims.Select((d, i) => channelAxis == i ? d : 1L).ToArray();
            TensorProto codeTensor = bits == 8
                ? TensorData.FromOwnedRaw(codeName, ElementTypes.Int8, dims, (byte[])(Array)codes)
                : TensorData.FromOwnedRaw(codeName, QuantType.Int4.OnnxDataType(), dims, WeightQuantizer.Pack(codes.Select(c => (int)c).ToArray(), QuantType.Int4));
            g.Initializer.Remove(t);
            g.Initializer.Add(codeTensor);
            g.Initializer.Add(TensorData.FromFloats(scaleName, channelAxis == null ? Array.Empty<long>() : scaleDims, scales));
            long bytesAfter = codeTensor.RawData.Length + scales.Length * 4L;
            before += data.Length * 4L;
            after += bytesAfter;
            var (sqnr, mse) = Error(data, dims, channelAxis, codes, scales, steps);
            reports.Add(new LogWeightReport(w, node.Name, node.OpType, dims, bits, steps, sqnr, mse, LinearSqnr(data, dims, channelAxis, bits), data.Length * 4L, bytesAfter));

            string asFloat = Fresh(w + "_logcodes_float");
            if (bits == 8 || castInt4)
                decode.Add(Node("Cast", new[] { codeName }, asFloat, w, ("to", ElementTypes.Float)));
            else
            {
                usesContribDecode = true;
                unit ??= AddScalar(g, Fresh("log_weights_unit_scale"), 1f);
                decode.Add(new NodeProto { OpType = "DequantizeLinear", Domain = "com.microsoft", Name = Fresh(w + "_logdecode"), Input = { codeName, unit }, Output = { asFloat } });
            }
            string abs = Fresh(w + "_logabs"), exponent = Fresh(w + "_logexp"), power = Fresh(w + "_logpow"), sign = Fresh(w + "_logsign"), signed = Fresh(w + "_logsigned");
            decode.Add(Node("Abs", new[] { asFloat }, abs, w));
            decode.Add(Node("Sub", new[] { one, abs }, exponent, w));
            if (steps > 1)
            {
                // 1/f is a power of two: the scaled exponent is exact, as in LogQuantizer.Decode.
                if (!perStep.TryGetValue(steps, out var inverse)) perStep[steps] = inverse = AddScalar(g, Fresh($"log_weights_per_{steps}_steps"), 1f / steps);
                string fraction = Fresh(w + "_logexp_steps");
                decode.Add(Node("Mul", new[] { exponent, inverse }, fraction, w));
                exponent = fraction;
            }
            decode.Add(Node("Pow", new[] { two, exponent }, power, w));
            decode.Add(Node("Sign", new[] { asFloat }, sign, w));
            decode.Add(Node("Mul", new[] { sign, power }, signed, w));
            decode.Add(Node("Mul", new[] { signed, scaleName }, w, w));
        }
        // The decoding nodes come first: they read only constants, and every consumer follows them.
        for (int i = decode.Count - 1; i >= 0; i--)
        {
            if (string.IsNullOrEmpty(decode[i].Name)) decode[i].Name = Fresh(decode[i].Output[0] + "_node");
            g.Node.Insert(0, decode[i]);
        }
        if (usesContribDecode && !proto.OpsetImport.Any(o => o.Domain == "com.microsoft"))
            proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        if (usesContribDecode)
            warnings.Add($"4-bit codes are decoded by com.microsoft DequantizeLinear on every run (ONNX Runtime does not fold it): the model cannot be raised to opset 21 for a foldable Cast ({WeightOnly.Opset21Upgrade.Blocker(proto)}).");
        else if (reports.Any(r => r.Bits == 4))
            WeightOnly.Opset21Upgrade.Raise(proto, new UniqueNames(names), warnings);
        long opset = proto.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();
        if (decode.Count > 0 && opset < 9)
            throw new QuantizationException($"The model uses opset {opset}; logarithmic weights decode with Sign, which needs opset 9.");
        return new LogWeightResult(model.With(proto), reports, before, after, warnings);
    }

    /// <summary>The output-channel axis of the node's weight (input 1), or null for ops whose weights are not stored this way.</summary>
    private static int? WeightAxis(NodeProto n) => n.OpType switch
    {
        "Conv" => 0,
        "ConvTranspose" => 1,
        "MatMul" => -1,
        "Gemm" => n.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1 ? 0 : 1,
        _ => null,
    };

    private static string AddScalar(GraphProto g, string name, float value)
    {
        g.Initializer.Add(TensorData.FromFloats(name, Array.Empty<long>(), new[] { value }));
        return name;
    }

    private static NodeProto Node(string op, string[] inputs, string output, string weight, (string Name, long Value)? attribute = null)
    {
        var n = new NodeProto { OpType = op, Input = { inputs }, Output = { output } };
        if (attribute is var (name, value)) n.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        return n;
    }

    private static int ChannelOf(long i, long inner, int channels) => channels == 1 ? 0 : (int)(i / inner % channels);

    private static (long Inner, int Channels) Layout(long[] dims, int? axis)
    {
        if (axis is not int a) return (1, 1);
        long inner = 1;
        for (int d = a + 1; d < dims.Length; d++) inner *= dims[d];
        return (inner, (int)dims[a]);
    }

    private static (double Sqnr, double Mse) Error(float[] data, long[] dims, int? axis, sbyte[] codes, float[] scales, int steps)
    {
        var (inner, channels) = Layout(dims, axis);
        double signal = 0, noise = 0;
        for (long i = 0; i < data.Length; i++)
        {
            double e = data[i] - LogQuantizer.Decode(codes[i], scales[ChannelOf(i, inner, channels)], steps);
            signal += (double)data[i] * data[i];
            noise += e * e;
        }
        return (noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise), noise / Math.Max(1, data.Length));
    }

    /// <summary>The SQNR of symmetric linear codes of the same width and scales (max-abs / qmax), for the report.</summary>
    private static double LinearSqnr(float[] data, long[] dims, int? axis, int bits)
    {
        var (inner, channels) = Layout(dims, axis);
        var max = new float[channels];
        for (long i = 0; i < data.Length; i++) max[ChannelOf(i, inner, channels)] = Math.Max(max[ChannelOf(i, inner, channels)], Math.Abs(data[i]));
        int qmax = (1 << (bits - 1)) - 1;
        double signal = 0, noise = 0;
        for (long i = 0; i < data.Length; i++)
        {
            float s = max[ChannelOf(i, inner, channels)] / qmax;
            double q = s == 0 ? 0 : Math.Clamp(Math.Round(data[i] / s), -qmax, qmax) * s;
            signal += (double)data[i] * data[i];
            noise += (data[i] - q) * (data[i] - q);
        }
        return noise == 0 ? double.PositiveInfinity : 10 * Math.Log10(signal / noise);
    }
}
