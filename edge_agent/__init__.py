"""Connected Store edge agent: owns the hardware, the local state and the MQTT link."""

__version__ = "0.1.0"
