using EvoQuant.Data;
using EvoQuant.Onnx;
using EvoQuant.Onnx.Proto;
using Google.Protobuf;
using Xunit;

namespace EvoQuant.Tests.Data;

public class TensorProtoFileTests
{
    [Fact]
    public void Typed_fields_and_raw_data_both_read()
    {
        var typed = new TensorProto { Name = "a", DataType = ElementTypes.Int64 };
        typed.Dims.Add(3);
        typed.Int64Data.Add(new long[] { 1, -2, 3 });
        var t = TensorProtoFile.FromProto(typed, "typed");
        Assert.Equal(new long[] { 1, -2, 3 }, t.Data);

        var raw = TensorProtoFile.ToProto(new NamedTensor("b", new float[] { 0.5f, 2 }, new long[] { 1, 2 }));
        var back = TensorProtoFile.FromProto(TensorProto.Parser.ParseFrom(raw.ToByteArray()), "raw");
        Assert.Equal("b", back.Name);
        Assert.Equal(new float[] { 0.5f, 2 }, back.Data);
    }

    [Fact]
    public void Garbage_is_a_sample_format_error()
    {
        string path = Path.Combine(Path.GetTempPath(), $"evoquant-{Guid.NewGuid():N}.pb");
        File.WriteAllBytes(path, new byte[] { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 });
        try { Assert.Throws<SampleFormatException>(() => TensorProtoFile.Read(path)); }
        finally { File.Delete(path); }
    }
}
