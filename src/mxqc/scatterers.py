"""Reference d-spacings of what commonly scatters besides the crystal (one place for the
simulator that draws them and the ring analysis that recognises them)."""

# Hexagonal ice Ih: (d in Å, relative powder intensity)
ICE_IH = ((3.897, 1.0), (3.669, 0.6), (3.441, 0.75), (2.671, 0.25), (2.249, 0.45),
          (2.072, 0.4), (1.948, 0.1), (1.918, 0.3), (1.883, 0.15), (1.721, 0.05),
          (1.525, 0.08), (1.473, 0.08), (1.444, 0.05), (1.372, 0.07), (1.299, 0.04))
# Cubic ice Ic
ICE_IC = ((3.67, 1.0), (2.25, 0.55), (1.92, 0.35))
# Liquid water / solvent: a broad ring whose maximum lies in this band (Å)
WATER_BAND_A = (3.0, 3.7)
# Nylon-6 (α form) of fibre loops: the 200 and 002/202 reflections (Å); drawn fibres give
# arcs in Friedel pairs rather than rings
NYLON_A = (4.4, 3.7)
# Kapton (polyimide) films and mounts: (d in Å, relative strength, width in Å⁻¹) of its
# sharp low-angle peak and broad amorphous halo
KAPTON = ((15.8, 1.0, 0.003), (4.9, 0.6, 0.02))
# Rings at lower resolution than this (Å) come from the loop, mount or kapton, not the sample
LOW_RESOLUTION_A = 5.0
