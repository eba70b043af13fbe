import DeepseekTensor

extension ONNXOperators {
    static func registerElementwise(_ t: inout [String: ONNXOperator]) {
        let unary: [String: UnaryOp] = [
            "Abs": .abs, "Neg": .neg, "Exp": .exp, "Log": .log, "Sqrt": .sqrt, "Reciprocal": .reciprocal,
            "Floor": .floor, "Ceil": .ceil, "Round": .round, "Sign": .sign, "Sin": .sin, "Cos": .cos, "Erf": .erf,
            "Tanh": .tanh, "Sigmoid": .sigmoid, "Relu": .relu, "Softplus": .softplus, "Not": .logicalNot,
        ]
        for (name, op) in unary {
            t[name] = { c in [try c.input(0).unary(op)] }
        }

        let binary: [String: BinaryOp] = [
            "Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div,
            "Equal": .equal, "Less": .less, "LessOrEqual": .lessEqual, "Greater": .greater,
            "GreaterOrEqual": .greaterEqual, "And": .logicalAnd, "Or": .logicalOr, "Xor": .logicalXor,
        ]
        for (name, op) in binary {
            t[name] = { c in [try c.input(0).binary(op, c.input(1))] }
        }

        // The result keeps the base's type even when the exponent's type differs.
        t["Pow"] = { c in
            let base = try c.input(0)
            return [try base.pow(c.input(1)).cast(to: base.dtype)]
        }

        t["Mod"] = { c in
            let a = try c.input(0)
            let b = try c.input(1)
            let fmod = try c.int("fmod", default: 0)
            if fmod == 0 {
                guard !a.dtype.isFloatingPoint else { throw c.invalid("fmod must be 1 for floating-point inputs") }
                return [try a.mod(b)]
            }
            // Deepseek's mod takes the divisor's sign; C's fmod takes the dividend's, so the
            // two differ by one divisor exactly when a non-zero remainder and the dividend have
            // opposite signs.
            let r = try a.mod(b)
            let zero = a.scalarLike(0)
            let adjust = try r.notEqual(zero).logicalAnd(a.less(zero).logicalXor(r.less(zero)))
            return [try adjust.where(r - b, r)]
        }

        for (name, op) in [("Max", BinaryOp.maximum), ("Min", .minimum), ("Sum", .add)] {
            t[name] = { c in
                let xs = c.inputs.compactMap { $0 }
                guard var y = xs.first else { throw c.invalid("needs at least one input") }
                for x in xs.dropFirst() { y = try y.binary(op, x) }
                return [y]
            }
        }
        t["Mean"] = { c in
            let xs = c.inputs.compactMap { $0 }
            guard var y = xs.first else { throw c.invalid("needs at least one input") }
            for x in xs.dropFirst() { y = try y + x }
            return [xs.count == 1 ? y : try y / Double(xs.count)]
        }

        t["Where"] = { c in [try c.input(0).where(c.input(1), c.input(2))] }

        t["Clip"] = { c in
            let x = try c.input(0)
            if c.opset < 11 {
                let lo = try c.optionalFloat("min").map(Double.init)
                let hi = try c.optionalFloat("max").map(Double.init)
                return [try x.clamp(min: lo, max: hi)]
            }
            return [try x.clamp(min: c.optionalInput(1), max: c.optionalInput(2))]
        }

        t["Cast"] = { c in
            let x = try c.input(0)
            guard let to = try c.optionalInt("to") else { throw c.invalid("attribute 'to' is required") }
            let target = try ONNXDataType(rawValue: Int32(truncatingIfNeeded: to)).requireDType("Cast to")
            if try c.int("saturate", default: 1) != 1 { throw c.unsupported("saturate=0 not supported") }
            return [try x.cast(to: target)]
        }
        t["CastLike"] = { c in [try c.input(0).cast(to: c.input(1).dtype)] }

        t["IsNaN"] = { c in
            let x = try c.input(0)
            return [try x.notEqual(x)]
        }
        t["IsInf"] = { c in
            let x = try c.input(0)
            let positive = try c.int("detect_positive", default: 1) != 0
            let negative = try c.int("detect_negative", default: 1) != 0
            var y = try Tensor.zeros(x.shape, dtype: .bool)
            if positive { y = try y.logicalOr(x.equal(x.scalarLike(.infinity))) }
            if negative { y = try y.logicalOr(x.equal(x.scalarLike(-.infinity))) }
            return [y]
        }
    }

    static func registerActivations(_ t: inout [String: ONNXOperator]) {
        t["LeakyRelu"] = { c in [try c.input(0).leakyRelu(alpha: c.float("alpha", default: 0.01))] }
        t["Elu"] = { c in [try c.input(0).elu(alpha: c.float("alpha", default: 1))] }
        t["Gelu"] = { c in
            let approximate = try c.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else { throw c.invalid("approximate must be none or tanh") }
            return [try c.input(0).gelu(approximate: approximate == "tanh")]
        }
        t["Selu"] = { c in
            let alpha = try c.float("alpha", default: 1.67326319217681884765625)
            let gamma = try c.float("gamma", default: 1.05070102214813232421875)
            return [try c.input(0).elu(alpha: alpha) * Double(gamma)]
        }
        t["Celu"] = { c in
            // celu(x) = alpha · elu(x / alpha) with elu's alpha of 1.
            let alpha = Double(try c.float("alpha", default: 1))
            return [try (c.input(0) / alpha).elu(alpha: 1) * alpha]
        }
        t["HardSigmoid"] = { c in
            let alpha = Double(try c.float("alpha", default: 0.2))
            let beta = Double(try c.float("beta", default: 0.5))
            return [try (c.input(0) * alpha + beta).clamp(min: 0, max: 1)]
        }
        t["HardSwish"] = { c in
            let x = try c.input(0)
            return [try x * (x * (1.0 / 6) + 0.5).clamp(min: 0, max: 1)]
        }
        t["Softsign"] = { c in
            let x = try c.input(0)
            return [try x / (x.abs() + 1)]
        }
        t["ThresholdedRelu"] = { c in
            let x = try c.input(0)
            let alpha = Double(try c.float("alpha", default: 1))
            return [try x.greater(x.scalarLike(alpha)).where(x, x.scalarLike(0))]
        }
        t["PRelu"] = { c in
            let x = try c.input(0)
            let slope = try c.input(1)
            return [try x.less(x.scalarLike(0)).where(x * slope, x)]
        }
        t["Shrink"] = { c in
            let x = try c.input(0)
            let lambd = Double(try c.float("lambd", default: 0.5))
            let bias = Double(try c.float("bias", default: 0))
            let low = try x.less(x.scalarLike(-lambd))
            let high = try x.greater(x.scalarLike(lambd))
            return [try low.where(x + bias, high.where(x - bias, x.scalarLike(0)))]
        }
    }
}
