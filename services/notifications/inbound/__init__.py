"""Mail in: the SMTP listener and the raw-MIME endpoint store every accepted mail raw; the
processor then reads, screens, threads and announces it."""
