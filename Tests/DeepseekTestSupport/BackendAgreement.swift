public import DeepseekTensor
public import Testing

/// Runs `body` on `reference` and on `backend` and expects the same outcome: tensors equal within
/// `tolerance` (per dtype by default), or `TensorError`s with the same code.
///
/// Every kernel backend's contract tests use this one check against the reference backend.
public func expectBackendAgreement(
    _ label: String, backend: any KernelBackend, reference: any KernelBackend = ReferenceBackend(),
    tolerance: Tolerance? = nil, sourceLocation: Testing.SourceLocation = #_sourceLocation,
    _ body: () throws -> [Tensor]
) {
    func outcome(_ b: any KernelBackend) -> Result<[Tensor], TensorError>? {
        do {
            return .success(try KernelBackends.using(b, body))
        } catch let e as TensorError {
            return .failure(e)
        } catch {
            Issue.record("\(label): \(b.name) threw \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }
    guard let expected = outcome(reference), let actual = outcome(backend) else { return }
    switch (actual, expected) {
    case (.success(let got), .success(let want)):
        #expect(got.count == want.count, sourceLocation: sourceLocation)
        for (i, (g, w)) in zip(got, want).enumerated() {
            expectClose(g, w, tolerance: tolerance, "\(label) [output \(i)]", sourceLocation: sourceLocation)
        }
    case (.failure(let got), .failure(let want)):
        #expect(got.code == want.code, "\(label): \(got) vs reference \(want)", sourceLocation: sourceLocation)
    case (.success, .failure(let want)):
        Issue.record("\(label): reference threw \(want) but \(backend.name) succeeded", sourceLocation: sourceLocation)
    case (.failure(let got), .success):
        Issue.record("\(label): \(backend.name) threw \(got) but the reference succeeded", sourceLocation: sourceLocation)
    }
}
