@{
    RootModule            = 'EvoQuant.PowerShell.dll'
    ModuleVersion         = '0.1.0'
    GUID                  = '6f3c2a9e-4b7d-4e51-9c1a-8d2e5f7a3b10'
    Author                = 'EvoQuant contributors'
    CompanyName           = 'EvoQuant'
    Copyright             = '(c) EvoQuant contributors. MIT License.'
    Description           = 'Quantize ONNX models from PowerShell: inspect graphs, calibrate in bounded memory (MinMax, Entropy, Percentile), write static QDQ/QOperator or dynamic int8 models, and find where the accuracy went.'
    PowerShellVersion     = '7.4'
    CompatiblePSEditions  = @('Core')
    CmdletsToExport       = @('Get-OnnxGraph', 'Measure-Calibration', 'Invoke-Quantization', 'Compare-QuantAccuracy', 'Export-CalibrationTable', 'Import-CalibrationTable', 'ConvertTo-TokenSample', 'Optimize-OnnxGraph')
    FunctionsToExport     = @()
    VariablesToExport     = @()
    AliasesToExport       = @()
    FormatsToProcess      = @('EvoQuant.Model.Format.ps1xml', 'EvoQuant.Calibration.Format.ps1xml', 'EvoQuant.Quantization.Format.ps1xml', 'EvoQuant.Evaluation.Format.ps1xml')
    TypesToProcess        = @()
    PrivateData           = @{
        PSData = @{
            Tags         = @('ONNX', 'Quantization', 'int8', 'MachineLearning', 'OnnxRuntime', 'PSEdition_Core', 'Windows', 'Linux', 'MacOS')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ProjectUri   = 'https://github.com/evoquant/evoquant'
            ReleaseNotes = 'First release: Get-OnnxGraph, Measure-Calibration, Invoke-Quantization, Compare-QuantAccuracy.'
        }
    }
}
