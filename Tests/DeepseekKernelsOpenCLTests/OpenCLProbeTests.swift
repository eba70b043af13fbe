import DeepseekKernelsOpenCL
import DeepseekTensor
import Testing

@Suite struct OpenCLProbeTests {
    @Test func probeAgreesWithAvailability() {
        let probe = OpenCLBackend.probe()
        #expect(probe.isAvailable == OpenCLBackend.isAvailable)
        #expect(probe.unavailableReason == OpenCLBackend.unavailableReason)
        if probe.isAvailable {
            #expect(!probe.devices.isEmpty)
            #expect(probe.description.contains("OpenCL platform 0"))
        } else {
            #expect(probe.description.hasPrefix("OpenCL: unavailable ("))
        }
    }

    @Test(.enabled(if: OpenCLBackend.isAvailable))
    func probeDescribesEveryDevice() throws {
        let probe = OpenCLBackend.probe()
        for device in probe.devices {
            #expect(!device.name.isEmpty)
            #expect(device.computeUnits >= 1)
            #expect(device.globalMemoryBytes > 0)
            #expect(device.maxWorkGroupSize >= 1)
            #expect(device.baseAddressAlignment >= 1)
            #expect(["cpu", "gpu", "accelerator", "other"].contains(device.kind))
            #expect(probe.description.contains(device.name))
        }
    }

    @Test(.enabled(if: OpenCLBackend.isAvailable))
    func backendNamesItsDevice() throws {
        let backend = try Shared.backend()
        #expect(backend.name == "opencl:\(backend.device.name)")
        #expect(OpenCLBackend.probe().devices.contains { $0.name == backend.device.name })
    }

    @Test(.enabled(if: OpenCLBackend.isAvailable))
    func unknownDeviceIsRefusedWithTheListOfDevices() throws {
        #expect {
            _ = try OpenCLBackend(device: .named("no such device \(UInt64.random(in: 0...UInt64.max))"))
        } throws: { error in
            guard let e = error as? TensorError else { return false }
            return e.code == .unsupported && e.message.contains("no device matches")
        }
        #expect(throws: TensorError.self) { _ = try OpenCLBackend(device: .index(platform: 99, device: 0)) }
    }

    @Test(.enabled(if: OpenCLBackend.isAvailable))
    func devicesCanBeChosenByIndexAndName() throws {
        let first = try #require(OpenCLBackend.probe().platforms.first?.devices.first)
        let byIndex = try OpenCLBackend(device: .index(platform: 0, device: 0))
        let byName = try OpenCLBackend(device: .named(String(first.name.prefix(6)).uppercased()))
        #expect(byIndex.device.name == first.name)
        #expect(byName.name.hasPrefix("opencl:"))
    }
}
