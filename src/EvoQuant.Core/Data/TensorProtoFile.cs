using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Google.Protobuf;

namespace EvoQuant.Data;

/// <summary>Reads and writes serialized ONNX <see cref="TensorProto"/> files (.pb), the format of the ONNX
/// test suites' test_data_set_N folders.</summary>
public static class TensorProtoFile
{
    public static NamedTensor Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            throw new SampleFormatException($"cannot open the file: {e.Message}", path, e);
        }
        TensorProto proto;
        try { proto = TensorProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw new SampleFormatException($"not a serialized ONNX TensorProto: {e.Message}", path, e);
        }
        return FromProto(proto, path);
    }

    /// <summary>Converts a TensorProto (raw_data or typed fields) into a sample tensor.</summary>
    public static NamedTensor FromProto(TensorProto proto, string source)
    {
        if (TensorData.IsExternal(proto))
            throw new SampleFormatException("the tensor keeps its data in an external file, which sample files may not do.", source);
        if (TypedArrays.ClrType(proto.DataType) == null)
            throw new SampleFormatException($"element type {ElementTypes.Name(proto.DataType)} is not supported for samples.", source);
        string? mismatch = TensorData.DescribeSizeMismatch(proto);
        if (mismatch != null) throw new SampleFormatException($"the tensor is inconsistent: {mismatch}.", source);
        var raw = TensorData.GetRawBytes(proto);
        var data = TypedArrays.FromBytes(raw, proto.DataType);
        return new NamedTensor(proto.Name, data, proto.Dims.ToArray(), source);
    }

    public static TensorProto ToProto(NamedTensor tensor) =>
        TensorData.FromRaw(tensor.Name ?? "", tensor.ElementType, tensor.GetShape(), TypedArrays.AsBytes(tensor.Data));

    public static void Write(string path, NamedTensor tensor)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        ToProto(tensor).WriteTo(fs);
    }
}
