using EvoQuant.Onnx.Proto;

namespace EvoQuant.Onnx;

public sealed partial class OnnxModel
{
    private Action<long>? _onTensorRead;

    /// <summary>This model (same protobuf, file and folder) telling <paramref name="onTensorRead"/> the bytes
    /// of each tensor read through it: a pass over the weights (quantizing them) reports how far it is
    /// without knowing about progress. A new instance, so the caller's model is not changed.</summary>
    public OnnxModel WithReadProgress(Action<long> onTensorRead)
    {
        ArgumentNullException.ThrowIfNull(onTensorRead);
        return new OnnxModel(Proto, Path, BaseDirectory, FileSize) { _graph = _graph, _onTensorRead = onTensorRead };
    }

    private T Observed<T>(TensorProto t, T value)
    {
        if (_onTensorRead != null)
        {
            long bytes = ElementTypes.RawByteCount(t.DataType, TensorData.ElementCount(t));
            if (bytes > 0) _onTensorRead(bytes);
        }
        return value;
    }
}
