import dkim, sys
msg = (b"From: Carol <carol@dkimpy.example>\r\n"
       b"To: dave@example.net\r\n"
       b"Subject: signed by dkimpy\r\n"
       b"Date: Sun, 22 Nov 2026 21:51:30 +0000\r\n"
       b"Message-ID: <vector-1@dkimpy.example>\r\n"
       b"\r\n"
       b"A fixed test vector for keyturn's verifier.\r\n"
       b"It was signed once by dkimpy; see README.\r\n")
key = open(sys.argv[1], "rb").read()
sig = dkim.sign(msg, b"kt1", b"dkimpy.example", key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
sys.stdout.buffer.write(sig + msg)
