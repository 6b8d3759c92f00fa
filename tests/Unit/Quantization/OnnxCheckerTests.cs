using System.Diagnostics;
using EvoQuant.Onnx;
using EvoQuant.Quantization;
using EvoQuant.Tests.Quantization.Helpers;
using Xunit;
using Xunit.Abstractions;

namespace EvoQuant.Tests.Quantization;

/// <summary>The models the quantizer writes pass the ONNX reference checker (onnx.checker.check_model with
/// full_check, which adds strict shape inference). The checker is Debian's python3-onnx 1.12
/// (tools/install-testdata.sh installs it): it knows opsets up to 17 and IR versions up to 8, so only
/// models within that range are checked here (all of these are: opset 13 for Fashion, 10 for PaddleOCR cls).
/// Nodes of the com.microsoft domain have no schema in onnx and are only checked structurally.</summary>
[Trait("Category", "TestData")]
public sealed class OnnxCheckerTests(ITestOutputHelper output)
{
    private const string Python = "/usr/bin/python3";
    private const string Check = "import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)";

    public static TheoryData<string> Models => new() { "fashion-qdq-per-channel", "fashion-qoperator", "fashion-dynamic", "ocr-cls-qdq", "ocr-cls-qdq-per-tensor" };

    private static OnnxModel Produce(string name) => name switch
    {
        "fashion-qdq-per-channel" => ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { PerChannel = true }).Model,
        "fashion-qoperator" => ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Static(FashionData.Ranges) with { Format = QuantFormat.QOperator, PerChannel = true }).Model,
        "fashion-dynamic" => ModelQuantizer.Quantize(FashionData.Model, QuantizationOptions.Dynamic()).Model,
        // Per channel, the opset-9 model gets com.microsoft Q/DQ (no schema in onnx); per tensor, standard opset-10 Q/DQ.
        "ocr-cls-qdq" => OcrData.ClsQdq.Model,
        "ocr-cls-qdq-per-tensor" => OcrData.QuantizeCls(EvoQuant.Calibration.CalibrationMethod.MinMax, perChannel: false).Model,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task QuantizedModelPassesOnnxChecker(string name)
    {
        var model = Produce(name);
        long opset = model.Opsets.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        output.WriteLine($"{name}: IR {model.Proto.IrVersion}, opset {opset}, " + string.Join(", ", model.Opsets.Where(o => o.Domain.Length > 0).Select(o => $"{o.Domain} {o.Version}")));
        Assert.True(opset <= 17 && model.Proto.IrVersion <= 8, $"{name} needs a newer onnx than 1.12 (opset {opset}, IR {model.Proto.IrVersion})");

        string path = Path.Combine(Path.GetTempPath(), $"evoquant-check-{name}-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, model.ToBytes());
            var psi = new ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(Check);
            psi.ArgumentList.Add(path);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            string err = await stderr;
            if (stdout.Length > 0) output.WriteLine(stdout);
            if (err.Length > 0) output.WriteLine(err);
            Assert.True(p.ExitCode == 0, $"onnx.checker rejects {name} (exit {p.ExitCode}):\n{err}");
        }
        finally { File.Delete(path); }
    }
}
