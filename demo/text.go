package demo

// demoSample is a sample file of the demo (under samples/).
type demoSample struct {
	ID   string // what pages send
	File string // the embedded file name, also the document name
	Zh   string
	En   string
}

// demoSamples are the files a visitor can sign without uploading one.
var demoSamples = []demoSample{
	{ID: "bid", File: "bid-2026-017.txt", Zh: "投标函（ZC-2026-017）", En: "Bid letter (ZC-2026-017)"},
	{ID: "tech", File: "tech-proposal-017.txt", Zh: "技术方案（ZC-2026-017）", En: "Technical proposal (ZC-2026-017)"},
}

// demoSealedBid is the file the "open bid" page seals to the user.
var demoSealedBid = demoSample{ID: "sealed", File: "sealed-bid-042.txt", Zh: "密封投标（ZC-2026-042）", En: "Sealed bid (ZC-2026-042)"}

func findSample(id string) (demoSample, bool) {
	for _, s := range demoSamples {
		if s.ID == id {
			return s, true
		}
	}
	return demoSample{}, false
}

// demoText holds every visible string of the demo pages, per language.
// The widget has its own strings.
var demoText = map[string]map[string]string{
	"zh": {
		"site":          "阳光采购平台（演示）",
		"siteOther":     "Procurement portal (demo)",
		"langSwitch":    "English",
		"navLogin":      "扫码登录",
		"navSign":       "签署投标",
		"navOpen":       "开标解密",
		"loginTitle":    "扫码登录",
		"loginIntro":    "用手机上的 ukeygate 应用扫描二维码，核对匹配码并输入 PIN 即可登录，无需插入 UKEY。",
		"welcome":       "欢迎，",
		"subject":       "证书主题",
		"issuer":        "颁发者",
		"serial":        "序列号",
		"notAfter":      "有效期至",
		"logout":        "退出登录",
		"signTitle":     "签署投标文件",
		"signIntro":     "选择示例文件或上传文件，扫码后在手机上确认，得到 CMS 分离式签名（.p7s）。",
		"sample":        "示例文件",
		"orUpload":      "或上传文件（≤ 512 KB）",
		"startSign":     "扫码签署",
		"signed":        "签署完成，网关验证通过",
		"download":      "下载签名（.p7s）",
		"signer":        "签署人",
		"sealTitle":     "投标文件盖章",
		"sealIntro":     "演示门户生成一份示例投标 PDF；扫码后在手机上选择印章并确认，印章盖在第 1 页（150, 240 mm），PDF 以 PAdES 签名。",
		"startSeal":     "盖章",
		"sealDone":      "盖章完成，网关验证通过",
		"sealName":      "印章",
		"downloadPDF":   "下载盖章后的 PDF",
		"openTitle":     "开标：解密投标文件",
		"openIntro":     "投标时扫码提供您的加密证书（certificate 会话，无需 PIN），门户用它把文件密封成数字信封；开标时扫码确认，由您的密钥解密。",
		"needLogin":     "请先扫码登录，才能向您的证书密封投标文件。",
		"goLogin":       "去登录",
		"submit":        "① 提交投标（扫码提供加密证书）",
		"startOpen":     "② 扫码开标（解密）",
		"sealed":        "已密封",
		"sealedTo":      "加密证书",
		"bytes":         "字节",
		"plaintext":     "解密结果",
		"match":         "与提交的原文一致",
		"mismatch":      "与提交的原文不一致！",
		"events":        "事件",
		"devTitle":      "开发者：复制这几行",
		"devJS":         "浏览器（不需要 app key）",
		"devBackend":    "后端（Go，portal.Client）",
		"devCurl":       "后端（curl）",
		"devVerify":     "服务器端校验",
		"footer":        "演示门户只用公开的 v1 协议与网关通信；app key 只在服务器端。",
		"errorPrefix":   "出错了：",
		"noScriptTitle": "需要启用 JavaScript",
	},
	"en": {
		"site":          "Procurement portal (demo)",
		"siteOther":     "阳光采购平台（演示）",
		"langSwitch":    "中文",
		"navLogin":      "QR login",
		"navSign":       "Sign bid",
		"navOpen":       "Open bid",
		"loginTitle":    "Log in with your phone",
		"loginIntro":    "Scan the QR code with the ukeygate app, check the matching code and enter your PIN. No USB key needed.",
		"welcome":       "Welcome, ",
		"subject":       "Certificate subject",
		"issuer":        "Issuer",
		"serial":        "Serial",
		"notAfter":      "Valid until",
		"logout":        "Log out",
		"signTitle":     "Sign a bid",
		"signIntro":     "Pick a sample or upload a file, scan and confirm on your phone, and get a detached CMS signature (.p7s).",
		"sample":        "Sample file",
		"orUpload":      "or upload a file (≤ 512 KB)",
		"startSign":     "Scan to sign",
		"signed":        "Signed; the gateway verified the signature",
		"download":      "Download the signature (.p7s)",
		"signer":        "Signer",
		"sealTitle":     "Seal the bid",
		"sealIntro":     "The demo makes a sample bid PDF; scan, choose your seal on the phone and confirm: the seal goes on page 1 at (150, 240) mm and the PDF gets a PAdES signature.",
		"startSeal":     "盖章 Seal",
		"sealDone":      "Sealed; the gateway verified the PDF",
		"sealName":      "Seal",
		"downloadPDF":   "Download the sealed PDF",
		"openTitle":     "Open a sealed bid",
		"openIntro":     "At submission you scan to hand over your encryption certificate (a certificate session, no PIN) and the portal seals the bid to it; at the opening you scan and your key decrypts it.",
		"needLogin":     "Log in first, so that the bid can be sealed to your certificate.",
		"goLogin":       "Log in",
		"submit":        "① Submit the bid (scan: hand over your encryption certificate)",
		"startOpen":     "② Scan to open (decrypt)",
		"sealed":        "Sealed",
		"sealedTo":      "To the certificate",
		"bytes":         "bytes",
		"plaintext":     "Decrypted bid",
		"match":         "Matches the submitted file",
		"mismatch":      "Does NOT match the submitted file!",
		"events":        "Events",
		"devTitle":      "For developers: copy these lines",
		"devJS":         "Browser (no app key)",
		"devBackend":    "Backend (Go, portal.Client)",
		"devCurl":       "Backend (curl)",
		"devVerify":     "Server-side checks",
		"footer":        "This demo talks to the gateway only through the public v1 protocol; the app key stays on the server.",
		"errorPrefix":   "Error: ",
		"noScriptTitle": "JavaScript is required",
	},
}
