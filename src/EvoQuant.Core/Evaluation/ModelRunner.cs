using EvoQuant.Data;
using EvoQuant.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EvoQuant.Evaluation;

/// <summary>An ONNX Runtime session over a model held in memory, fed bound sample batches,
/// giving float outputs by name. Outputs live only until the next run.</summary>
internal sealed class ModelRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly string[] _inputNames;

    /// <param name="model">Serialized model.</param>
    /// <param name="optimize">False for augmented models: graph optimizations would fuse away the
    /// intermediate tensors (and fold Q/DQ pairs into integer kernels) whose names we read.</param>
    public ModelRunner(byte[] model, bool optimize) : this(o => new InferenceSession(model, o), optimize) { }

    /// <summary>A session over a model file (see <see cref="RuntimeModelFile"/>): any size, external data mapped.</summary>
    public ModelRunner(RuntimeModelFile model, bool optimize) : this(model.Open, optimize) { }

    /// <summary>A session over <paramref name="model"/>, through a <see cref="RuntimeModelFile"/> removed once loaded.</summary>
    public ModelRunner(OnnxModel model, bool optimize) : this(o =>
    {
        using var file = RuntimeModelFile.For(model);
        return file.Open(o);
    }, optimize) { }

    private ModelRunner(Func<SessionOptions, InferenceSession> open, bool optimize)
    {
        _options = new SessionOptions
        {
            GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try { _session = open(_options); }
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

    /// <summary>Runs one batch (inputs bound by <see cref="Calibration.InputBinder"/>). The outputs are
    /// read in place from ONNX Runtime's buffers; dispose the result before the next run.</summary>
    public RunResult Run(IReadOnlyDictionary<string, NamedTensor> inputs, IReadOnlyList<string> outputs)
    {
        var names = new List<string>(inputs.Count);
        var values = new List<OrtValue>(inputs.Count);
        try
        {
            foreach (var (name, tensor) in inputs)
            {
                if (!_session.InputMetadata.ContainsKey(name))
                    throw new ArgumentException($"The model has no input '{name}'; its inputs are {string.Join(", ", _inputNames)}.");
                names.Add(name);
                values.Add(tensor.ToOrtValue());
            }
            using var runOptions = new RunOptions();
            return new RunResult(_session.Run(runOptions, names, values, outputs), outputs);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    /// <summary>Runs on values another run produced (zero copy); the caller keeps ownership of the inputs.</summary>
    public RunResult Run(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputValues, IReadOnlyList<string> outputs)
    {
        using var runOptions = new RunOptions();
        return new RunResult(_session.Run(runOptions, inputNames, inputValues, outputs), outputs);
    }

    /// <summary>ONNX element type of an output, or null when it is not a tensor.</summary>
    public int? OutputElementType(string name) =>
        _session.OutputMetadata.TryGetValue(name, out var m) && m.IsTensor ? (int)m.ElementDataType : null;

    /// <summary>The outputs of one run, by name, as float spans over ORT's memory (other float types converted once).</summary>
    internal sealed class RunResult : IDisposable
    {
        private readonly IDisposableReadOnlyCollection<OrtValue> _values;
        private readonly Dictionary<string, int> _index;
        private readonly Dictionary<string, float[]> _converted = new(StringComparer.Ordinal);

        public RunResult(IDisposableReadOnlyCollection<OrtValue> values, IReadOnlyList<string> names)
        {
            _values = values;
            _index = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
            for (int i = 0; i < names.Count; i++) _index[names[i]] = i;
        }

        /// <summary>The ORT value itself, to feed another session.</summary>
        public OrtValue Value(string name) => _values[_index[name]];

        public long[] Shape(string name) => _values[_index[name]].GetTensorTypeAndShape().Shape;

        public ReadOnlySpan<float> Data(string name)
        {
            var v = _values[_index[name]];
            var type = v.GetTensorTypeAndShape().ElementDataType;
            if (type == TensorElementType.Float) return v.GetTensorDataAsSpan<float>();
            if (!_converted.TryGetValue(name, out var data))
            {
                data = type switch
                {
                    TensorElementType.Double => Array.ConvertAll(v.GetTensorDataAsSpan<double>().ToArray(), d => (float)d),
                    TensorElementType.Float16 => Array.ConvertAll(v.GetTensorDataAsSpan<Float16>().ToArray(), h => h.ToFloat()),
                    _ => throw new NotSupportedException($"Output '{name}' holds {type}, not floats."),
                };
                _converted[name] = data;
            }
            return data;
        }

        public void Dispose() => _values.Dispose();
    }

    public void Dispose()
    {
        _session.Dispose();
        _options.Dispose();
    }
}
