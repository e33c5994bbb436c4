"""(firmware, make, model) the exporter parses from each simulated profile.

Some differ from the profile's own labels: btminer reports no model over the
CGMiner API, and the Avalon capture calls itself an AvalonMiner 15-194.
"""

IDENTITY = {
    "antminer-s19pro": ("antminer", "Bitmain", "S19 Pro"),
    "antminer-s21": ("antminer", "Bitmain", "S21"),
    "whatsminer-m31s": ("whatsminer", "MicroBT", ""),
    "avalon-1566": ("avalon", "Canaan", "AvalonMiner 15-194"),
    "braiins-s9": ("braiins", "Bitmain", "S9"),
    "vnish-s21pro": ("vnish", "Bitmain", "S21 Pro"),
    "luxos-s19kpro": ("luxos", "Bitmain", "S19k Pro"),
}
