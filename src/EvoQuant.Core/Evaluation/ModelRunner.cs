using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Evaluation;

/// <summary>An ONNX Runtime session over a model held in memory, fed <see cref="InputTensor"/> batches,
/// giving float outputs by name. Outputs live only until the next run.</summary>
internal sealed class ModelRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly string[] _inputNames;

    /// <param name="model">Serialized model.</param>
    /// <param name="optimize">False for augmented models: graph optimizations would fuse away the
    /// intermediate tensors (and fold Q/DQ pairs into integer kernels) whose names we read.</param>
    public ModelRunner(byte[] model, bool optimize)
    {
        _options = new SessionOptions
        {
            GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try { _session = new InferenceSession(model, _options); }
        catch
        {
            _options.Dispose();
            throw;
        }
        _inputNames = _session.InputMetadata.Keys.ToArray();
    }

    public IReadOnlyDictionary<string, NodeMetadata> InputMetadata => _session.InputMetadata;
    public IReadOnlyDictionary<string, NodeMetadata> OutputMetadata => _session.OutputMetadata;

    /// <summary>Whether an output exists and holds float32, float16 or float64 values.</summary>
    public bool IsFloatOutput(string name) =>
        _session.OutputMetadata.TryGetValue(name, out var m) && m.IsTensor
        && m.ElementDataType is TensorElementType.Float or TensorElementType.Float16 or TensorElementType.Double;

    /// <summary>Runs one batch and returns the requested outputs as float arrays with their shapes.</summary>
    public Dictionary<string, (float[] Data, long[] Shape)> Run(IReadOnlyList<InputTensor> batch, IReadOnlyList<string> outputs)
    {
        var feeds = Bind(batch);
        try
        {
            using var results = _session.Run(new RunOptions(), feeds.Select(f => f.Name).ToArray(), feeds.Select(f => f.Value).ToArray(), outputs.ToArray());
            var map = new Dictionary<string, (float[], long[])>(outputs.Count, StringComparer.Ordinal);
            for (int i = 0; i < outputs.Count; i++) map[outputs[i]] = ToFloats(results[i], outputs[i]);
            return map;
        }
        finally
        {
            foreach (var f in feeds) f.Value.Dispose();
        }
    }

    private List<(string Name, OrtValue Value)> Bind(IReadOnlyList<InputTensor> batch)
    {
        var result = new List<(string, OrtValue)>();
        if (batch.Count == 1 && batch[0].Name == null && _inputNames.Length == 1)
        {
            result.Add((_inputNames[0], ToOrt(batch[0], _session.InputMetadata[_inputNames[0]])));
            return result;
        }
        for (int i = 0; i < batch.Count; i++)
        {
            // Unnamed tensors bind to inputs by position.
            string name = batch[i].Name ?? (i < _inputNames.Length ? _inputNames[i] : throw new ArgumentException($"The sample has {batch.Count} tensors but the model has {_inputNames.Length} inputs."));
            if (!_session.InputMetadata.TryGetValue(name, out var meta))
                throw new ArgumentException($"The model has no input '{name}'; its inputs are {string.Join(", ", _inputNames)}.");
            result.Add((name, ToOrt(batch[i], meta)));
        }
        var missing = _inputNames.Except(result.Select(r => r.Item1)).ToList();
        if (missing.Count > 0)
        {
            foreach (var r in result) r.Item2.Dispose();
            throw new ArgumentException($"The sample gives no value for input(s) {string.Join(", ", missing)}.");
        }
        return result;
    }

    private static OrtValue ToOrt(InputTensor t, NodeMetadata meta)
    {
        var data = t.Data;
        // Values of another numeric type are converted to what the input wants (double images, int labels).
        if (meta.ElementDataType == TensorElementType.Float && data is not float[]) data = ToFloatArray(data);
        return data switch
        {
            float[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            double[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            long[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            int[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            short[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            sbyte[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            byte[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            bool[] x => OrtValue.CreateTensorValueFromMemory(x, t.Shape),
            _ => throw new NotSupportedException($"Cannot feed {data.GetType().Name} to ONNX Runtime."),
        };
    }

    private static float[] ToFloatArray(Array a)
    {
        var f = new float[a.Length];
        for (int i = 0; i < f.Length; i++) f[i] = Convert.ToSingle(a.GetValue(i));
        return f;
    }

    private static (float[], long[]) ToFloats(OrtValue v, string name)
    {
        var info = v.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        float[] data = info.ElementDataType switch
        {
            TensorElementType.Float => v.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => Array.ConvertAll(v.GetTensorDataAsSpan<double>().ToArray(), d => (float)d),
            TensorElementType.Float16 => Array.ConvertAll(v.GetTensorDataAsSpan<Float16>().ToArray(), h => h.ToFloat()),
            _ => throw new NotSupportedException($"Output '{name}' holds {info.ElementDataType}, not floats."),
        };
        return (data, shape);
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
