import DeepseekCore
import DeepseekTensor
import DeepseekTestSupport
import Foundation
import Testing

@Suite struct NeuralNetworkOpsTests {
    @Test func softmaxRowsSumToOneAndLogSoftmaxIsStable() throws {
        let x = try Tensor([Float(1000), 1001, 1002, -5, 0, 5], shape: [2, 3])
        let s = try x.softmax(axis: 1)
        expectClose(try s.sum(axes: [1]), try Tensor([Float(1), 1], shape: [2]))
        let l = try x.logSoftmax(axis: 1).scalars(as: Float.self)
        #expect(l.allSatisfy { $0.isFinite })
        #expect(Swift.abs(l[2] - Float(-0.40760596)) < 1e-5)
    }

    @Test func layerNormGivesZeroMeanUnitVariance() throws {
        let x = try Tensor.testValues([4, 16], seed: 9)
        let r = try x.layerNorm(epsilon: 0)
        expectClose(try r.output.mean(axes: [1]), try Tensor.zeros([4]), tolerance: Tolerance(absolute: 1e-5, relative: 0))
        expectClose(try r.output.variance(axes: [1]), try Tensor.ones([4]), tolerance: Tolerance(absolute: 1e-4, relative: 0))
        #expect(r.mean.shape == [4, 1])
        let w = try Tensor.full([16], value: 2)
        let b = try Tensor.full([16], value: 1)
        expectClose(try x.layerNorm(weight: w, bias: b, epsilon: 0).output, try r.output * 2 + 1)
        #expect(throws: TensorError.self) { try x.layerNorm(weight: Tensor.ones([15])) }
    }

    @Test func batchNormUsesPerChannelStatistics() throws {
        let x = try Tensor([Float(1), 2, 3, 4, 10, 20, 30, 40], shape: [1, 2, 2, 2])
        let y = try x.batchNorm(
            scale: Tensor([Float(1), 2]), bias: Tensor([Float(0), 1]), mean: Tensor([Float(2.5), 25]),
            variance: Tensor([Float(1.25), 125]), epsilon: 0)
        let v = try y.scalars(as: Float.self)
        #expect(Swift.abs(v[0] - Float(-1.5 / 1.25.squareRoot())) < 1e-5)
        #expect(Swift.abs(v[7] - Float(1 + 2 * 15 / 125.0.squareRoot())) < 1e-5)
        let training = try x.batchNormTraining(scale: Tensor([Float(1), 1]), bias: Tensor([Float(0), 0]), epsilon: 0)
        #expect(try training.mean.scalars(as: Float.self) == [2.5, 25])
        #expect(try training.variance.scalars(as: Float.self) == [1.25, 125])
    }

    @Test func conv2dOfAHandComputedExample() throws {
        // 1×1×3×3 input, 1×1×2×2 kernel of ones: each output is the sum of a 2×2 window.
        let x = try Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let w = try Tensor.ones([1, 1, 2, 2])
        #expect(try x.conv2d(w).scalars(as: Float.self) == [12, 16, 24, 28])
        let padded = try x.conv2d(w, bias: Tensor([Float(1)]), parameters: .init(stride: 2, padding: 1))
        #expect(padded.shape == [1, 1, 2, 2])
        #expect(try padded.scalars(as: Float.self) == [2, 6, 12, 29])
        let dilated = try x.conv2d(w, parameters: .init(dilation: 2))
        #expect(try dilated.scalars(as: Float.self) == [20])
    }

    @Test func groupedConvolutionEqualsSeparateConvolutions() throws {
        let x = try Tensor.testValues([2, 4, 5, 5], seed: 1)
        let w = try Tensor.testValues([6, 2, 3, 3], seed: 2)
        let y = try x.conv2d(w, parameters: .init(padding: 1, groups: 2))
        let xs = try x.split(sizes: [2, 2], axis: 1)
        let ws = try w.split(sizes: [3, 3], axis: 0)
        let expected = try Tensor.concat(
            [try xs[0].conv2d(ws[0], parameters: .init(padding: 1)), try xs[1].conv2d(ws[1], parameters: .init(padding: 1))],
            axis: 1)
        expectClose(y, expected)
    }

    @Test func conv2dRejectsMismatchedChannels() {
        do {
            _ = try Tensor.zeros([1, 3, 8, 8]).conv2d(Tensor.zeros([4, 2, 3, 3]))
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("3 channels"))
        }
    }

    @Test func poolingHandlesPaddingAndCeilMode() throws {
        let x = try Tensor((1...16).map(Float.init), shape: [1, 1, 4, 4])
        #expect(try x.maxPool2d(.init(kernel: (2, 2))).scalars(as: Float.self) == [6, 8, 14, 16])
        #expect(try x.avgPool2d(.init(kernel: (2, 2))).scalars(as: Float.self) == [3.5, 5.5, 11.5, 13.5])
        let ceil = try x.maxPool2d(.init(kernel: (3, 3), stride: (2, 2), ceilMode: true))
        #expect(ceil.shape == [1, 1, 2, 2])
        #expect(try ceil.scalars(as: Float.self) == [11, 12, 15, 16])
        let p = Pool2dParameters(kernel: (3, 3), stride: (1, 1), padding: (1, 1, 1, 1))
        #expect(try x.avgPool2d(p).scalars(as: Float.self)[0] == (1 + 2 + 5 + 6) / 4)
        var q = p
        q.countIncludePad = true
        #expect(try x.avgPool2d(q).scalars(as: Float.self)[0] == (1 + 2 + 5 + 6) / 9)
    }

    @Test func gatherTakesRowsAndChecksBounds() throws {
        let table = try Tensor((0..<12).map(Float.init), shape: [4, 3])
        let rows = try table.embedding(Tensor([Int64(3), 0, -1], shape: [3]))
        #expect(try rows.scalars(as: Float.self) == [9, 10, 11, 0, 1, 2, 9, 10, 11])
        let cols = try table.gather(indices: Tensor([Int32(2)], shape: [1]), axis: 1)
        #expect(try cols.scalars(as: Float.self) == [2, 5, 8, 11])
        do {
            _ = try table.embedding(Tensor([Int64(4)], shape: [1]))
            Issue.record("expected an error")
        } catch let error as TensorError {
            #expect(error.code == .indexOutOfRange)
        }
    }

    @Test func dropoutIsSeededAndScalesKeptElements() throws {
        let x = try Tensor.ones([10_000])
        var rng1 = SeededRandom(seed: 7)
        var rng2 = SeededRandom(seed: 7)
        let a = try x.dropout(probability: 0.25, rng: &rng1).output
        let b = try x.dropout(probability: 0.25, rng: &rng2).output
        #expect(try a.scalars(as: Float.self) == b.scalars(as: Float.self))
        let kept = try a.scalars(as: Float.self).filter { $0 != 0 }
        #expect(kept.allSatisfy { Swift.abs($0 - 4.0 / 3.0) < 1e-6 })
        #expect(Swift.abs(Double(kept.count) / 10_000 - 0.75) < 0.02)
        #expect(throws: TensorError.self) { try x.dropout(probability: 1, rng: &rng1) }
    }

    @Test func crossEntropyMatchesTheFormula() throws {
        let logits = try Tensor([Float(2), 1, 0.1, 0.5, 2.5, 0.3], shape: [2, 3])
        let labels = try Tensor([Int64(0), 1], shape: [2])
        let rows = try logits.scalarsAsDouble()
        func nll(_ r: ArraySlice<Double>, _ label: Int) -> Double {
            let m = r.max()!
            let lse = m + Foundation.log(r.map { Foundation.exp($0 - m) }.reduce(0, +))
            return lse - r[r.startIndex + label]
        }
        let expected = (nll(rows[0..<3], 0) + nll(rows[3..<6], 1)) / 2
        #expect(Swift.abs(try logits.crossEntropy(labels: labels).item(as: Double.self) - expected) < 1e-6)
        #expect(throws: TensorError.self) { try logits.crossEntropy(labels: Tensor([Int64(0), 3], shape: [2])) }
        #expect(throws: TensorError.self) { try logits.crossEntropy(labels: Tensor([Int64(0)], shape: [1])) }
    }

    @Test func initialisersAreSeededAndScaled() throws {
        var r1 = SeededRandom(seed: 3)
        var r2 = SeededRandom(seed: 3)
        let a = try Tensor.kaimingUniform([256, 128], rng: &r1)
        let b = try Tensor.kaimingUniform([256, 128], rng: &r2)
        #expect(try a.scalars(as: Float.self) == b.scalars(as: Float.self))
        let bound = (6.0 / 128).squareRoot()
        #expect(try a.max().item(as: Double.self) <= bound)
        #expect(try a.min().item(as: Double.self) >= -bound)
        let n = try Tensor.normal([100_000], mean: 1, std: 2, rng: &r1)
        #expect(Swift.abs(try n.mean().item(as: Double.self) - 1) < 0.03)
        #expect(Swift.abs(try n.variance().item(as: Double.self) - 4) < 0.1)
        let xavier = try Tensor.xavierNormal([300, 200], rng: &r1)
        #expect(Swift.abs(try xavier.variance().item(as: Double.self) - 2.0 / 500) < 4e-4)
        #expect(throws: TensorError.self) { try Tensor.kaimingNormal([5], rng: &r1) }
    }
}
