package parser

// The per-language data StripQuoted works from. Each language is one
// entry of quoteLangs; adding a language or a client's wording is adding
// strings here, not changing a regular expression. All strings are
// matched case-insensitively (Unicode simple folding) against a line
// trimmed of white space, with runs of white space (including no-break
// spaces) collapsed to one space.
//
// The forms come from what the clients write by default, as seen in
// their localisations: Gmail (web and apps), Outlook (desktop, web and
// mobile), Apple Mail (macOS, iOS), Thunderbird and the common Android
// mail apps.

// attrForm is one shape of attribution line: the line starts with one of
// starts (if any), contains one of contains (if any) and ends with one of
// ends (if any). Every form also needs the line to end with a colon
// (ASCII or full-width) after the ends, which the ends include.
type attrForm struct {
	starts, contains, ends []string
}

// quoteLang is the data for one language.
type quoteLang struct {
	code string
	// attributions are the lines clients write above a quoted message.
	attributions []attrForm
	// Header labels of the block Outlook (and forwards in every client)
	// writes above a quoted or forwarded message, by field.
	from, date, to, subject, cc []string
	// originals are separator texts like "Original Message", matched
	// between runs of dashes ("-----Original Message-----").
	originals []string
	// forwards are forward separators, matched between dashes or as a
	// whole line with an optional trailing colon.
	forwards []string
	// signatures are the default lines mobile and desktop apps append:
	// a line that starts with prefix, ends with suffix and is at most max
	// runes long (after a trailing link is removed) is one.
	signatures []sigForm
}

// sigForm is one default app signature.
type sigForm struct {
	prefix, suffix string
	max            int
}

var quoteLangs = []quoteLang{
	{
		code: "en",
		attributions: []attrForm{
			// Gmail, Apple Mail, Outlook for Mac/iOS, Thunderbird:
			// "On Mon, Feb 5, 2024 at 10:00 AM Jane <jane@example.org> wrote:"
			{starts: []string{"On "}, ends: []string{"wrote:", "wrote :", "writes:", "sent:"}},
			// Thunderbird without date, old Eudora: "Jane Doe <jane@x> wrote:"
			// (accepted only with quoted lines below, see attributionAt).
			{ends: []string{"> wrote:", "] wrote:", " wrote:"}},
			{starts: []string{"In a message dated "}, ends: []string{"writes:", "wrote:"}},
		},
		from:      []string{"From"},
		date:      []string{"Sent", "Date"},
		to:        []string{"To"},
		subject:   []string{"Subject"},
		cc:        []string{"Cc", "Bcc", "Reply-To"},
		originals: []string{"Original Message", "Original", "Reply Message", "Original e-mail", "Original Email"},
		forwards:  []string{"Forwarded message", "Forwarded Message", "Begin forwarded message", "Forwarded by", "Forwarded e-mail"},
		signatures: []sigForm{
			{prefix: "Sent from my ", max: 60},
			{prefix: "Sent from Mail for Windows", max: 40},
			{prefix: "Sent from Outlook", max: 40},
			{prefix: "Sent from Yahoo Mail", max: 50},
			{prefix: "Sent from Proton Mail", max: 50},
			{prefix: "Sent from ProtonMail", max: 50},
			{prefix: "Sent with Proton Mail", max: 60},
			{prefix: "Sent from Gmail Mobile", max: 30},
			{prefix: "Sent from the all new AOL app", max: 50},
			{prefix: "Sent from Samsung Mobile", max: 40},
			{prefix: "Sent via BlackBerry", max: 60},
			{prefix: "Sent from BlackBerry", max: 60},
			{prefix: "Sent from Android", max: 30},
			{prefix: "Sent from iPhone", max: 30},
			{prefix: "Sent from Spark", max: 30},
			{prefix: "Get Outlook for ", max: 30},
			{prefix: "Sent using ", suffix: "app", max: 50},
		},
	},
	{
		code: "nl",
		attributions: []attrForm{
			// Gmail "Op ma 5 feb 2024 om 10:00 schreef Jane <jane@x>:",
			// Thunderbird "Op 05-02-2024 om 10:00 schreef Jane Doe:"
			{starts: []string{"Op "}, contains: []string{" schreef "}, ends: []string{":"}},
			{starts: []string{"Op "}, ends: []string{" schreef:"}},
			// Apple Mail "Op 5 feb. 2024 om 10:00 heeft Jane het volgende geschreven:"
			{starts: []string{"Op "}, ends: []string{"het volgende geschreven:", "het volgende geschreven :"}},
			{contains: []string{" schreef op "}, ends: []string{":"}},
		},
		from:      []string{"Van"},
		date:      []string{"Verzonden", "Datum", "Verstuurd"},
		to:        []string{"Aan"},
		subject:   []string{"Onderwerp"},
		cc:        []string{"CC", "BCC"},
		originals: []string{"Oorspronkelijk bericht", "Origineel bericht", "Oorspronkelijk e-mailbericht"},
		forwards:  []string{"Doorgestuurd bericht", "Begin doorgestuurd bericht", "Doorgestuurde e-mail"},
		signatures: []sigForm{
			{prefix: "Verzonden vanaf mijn ", max: 60},
			{prefix: "Verstuurd vanaf mijn ", max: 60},
			{prefix: "Verzonden met mijn ", max: 60},
			{prefix: "Verstuurd met mijn ", max: 60},
			{prefix: "Verzonden vanuit Outlook", max: 40},
			{prefix: "Verzonden vanuit Mail voor Windows", max: 40},
			{prefix: "Verzonden met Outlook", max: 40},
			{prefix: "Outlook voor ", suffix: "downloaden", max: 40},
			{prefix: "Download Outlook voor ", max: 40},
		},
	},
	{
		code: "de",
		attributions: []attrForm{
			// Gmail "Am Mo., 5. Feb. 2024 um 10:00 Uhr schrieb Jane <jane@x>:",
			// Apple Mail and Thunderbird "Am 05.02.2024 um 10:00 schrieb Jane Doe:"
			{starts: []string{"Am "}, contains: []string{" schrieb "}, ends: []string{":"}},
			{starts: []string{"Am "}, ends: []string{" schrieb:"}},
			// "Jane Doe <jane@x> schrieb am 05.02.2024 10:00:"
			{contains: []string{" schrieb am "}, ends: []string{":"}},
			{ends: []string{"> schrieb:", "] schrieb:"}},
		},
		from:      []string{"Von"},
		date:      []string{"Gesendet", "Datum", "Gesendet am"},
		to:        []string{"An"},
		subject:   []string{"Betreff"},
		cc:        []string{"Cc", "Kopie"},
		originals: []string{"Ursprüngliche Nachricht", "Original-Nachricht", "Originalnachricht", "Antwort Nachricht", "Ursprüngliche E-Mail"},
		forwards:  []string{"Weitergeleitete Nachricht", "Anfang der weitergeleiteten Nachricht", "Weitergeleitete E-Mail"},
		signatures: []sigForm{
			{prefix: "Von meinem ", suffix: "gesendet", max: 60},
			{prefix: "Gesendet von meinem ", max: 60},
			{prefix: "Gesendet von Outlook", max: 40},
			{prefix: "Gesendet von Mail für Windows", max: 40},
			{prefix: "Gesendet mit der ", suffix: "App", max: 60},
			{prefix: "Outlook für ", suffix: "beziehen", max: 40},
			{prefix: "Gesendet von iPhone", max: 30},
			{prefix: "Gesendet vom iPhone", max: 30},
		},
	},
	{
		code: "fr",
		attributions: []attrForm{
			// Gmail "Le lun. 5 févr. 2024 à 10:00, Jane <jane@x> a écrit :"
			{starts: []string{"Le "}, ends: []string{"a écrit :", "a écrit:", "a ecrit :", "a ecrit:"}},
			{ends: []string{"> a écrit :", "> a écrit:"}},
		},
		from:      []string{"De", "Expéditeur"},
		date:      []string{"Envoyé", "Date", "Message du", "Envoyé le"},
		to:        []string{"À", "A", "Destinataire"},
		subject:   []string{"Objet", "Sujet"},
		cc:        []string{"Cc", "Copie à"},
		originals: []string{"Message d'origine", "Message d’origine", "Message original", "Courriel original"},
		forwards:  []string{"Message transféré", "Début du message réexpédié", "Début du message transféré", "Message réexpédié"},
		signatures: []sigForm{
			{prefix: "Envoyé de mon ", max: 60},
			{prefix: "Envoyé depuis mon ", max: 60},
			{prefix: "Envoyé depuis Outlook", max: 40},
			{prefix: "Envoyé à partir de Outlook", max: 50},
			{prefix: "Envoyé à partir de Courrier pour Windows", max: 50},
			{prefix: "Obtenir Outlook pour ", max: 40},
			{prefix: "Télécharger Outlook pour ", max: 40},
			{prefix: "Envoyé de Yahoo Mail", max: 50},
		},
	},
	{
		code: "pl",
		attributions: []attrForm{
			// Gmail "pon., 5 lut 2024 o 10:00 Jane <jane@x> napisał(a):"
			{ends: []string{"napisał(a):", "napisał:", "napisała:", "napisał(-a):"}},
			// Thunderbird "W dniu 5.02.2024 o 10:00, Jane Doe pisze:"
			{starts: []string{"W dniu ", "Dnia "}, ends: []string{"pisze:", "napisał:", "napisał(a):"}},
			// Apple Mail "Wiadomość napisana przez Jane <jane@x> w dniu 05.02.2024, o godz. 10:00:"
			{starts: []string{"Wiadomość napisana przez "}, ends: []string{":"}},
		},
		from:      []string{"Od", "Nadawca"},
		date:      []string{"Wysłano", "Wysłane", "Data"},
		to:        []string{"Do", "Adresat"},
		subject:   []string{"Temat"},
		cc:        []string{"DW", "Kopia"},
		originals: []string{"Wiadomość oryginalna", "Oryginalna wiadomość"},
		forwards:  []string{"Wiadomość przekazana dalej", "Przekazana wiadomość", "Początek przekazywanej wiadomości", "Przekazana dalej wiadomość"},
		signatures: []sigForm{
			{prefix: "Wysłane z mojego ", max: 60},
			{prefix: "Wysłano z mojego ", max: 60},
			{prefix: "Wysłane z aplikacji ", max: 50},
			{prefix: "Wysłane z iPhone", max: 30},
			{prefix: "Pobierz aplikację Outlook", max: 50},
		},
	},
	{
		// Danish, Norwegian and Swedish share most forms: "skrev".
		code: "da",
		attributions: []attrForm{
			// Gmail da "Den man. 5. feb. 2024 kl. 10.00 skrev Jane <jane@x>:",
			// Gmail/Apple no and sv "man. 5. feb. 2024 kl. 10:00 skrev Jane <jane@x>:"
			{contains: []string{" skrev "}, ends: []string{":"}},
			{ends: []string{" skrev:"}},
		},
		from:      []string{"Fra"},
		date:      []string{"Sendt", "Dato"},
		to:        []string{"Til"},
		subject:   []string{"Emne"},
		cc:        []string{"Cc", "Kopi"},
		originals: []string{"Oprindelig meddelelse", "Original meddelelse", "Oprindelig besked"},
		forwards:  []string{"Videresendt meddelelse", "Start på videresendt besked", "Videresendt besked"},
		signatures: []sigForm{
			{prefix: "Sendt fra min ", max: 60},
			{prefix: "Sendt fra Outlook", max: 40},
			{prefix: "Sendt fra Mail til Windows", max: 40},
			{prefix: "Hent Outlook til ", max: 40},
		},
	},
	{
		code:      "no",
		from:      []string{"Fra"},
		date:      []string{"Sendt", "Dato"},
		to:        []string{"Til"},
		subject:   []string{"Emne"},
		cc:        []string{"Kopi"},
		originals: []string{"Opprinnelig melding", "Original melding"},
		forwards:  []string{"Videresendt melding", "Begynnelse på videresendt melding", "Videresendt e-post"},
		signatures: []sigForm{
			{prefix: "Sendt fra min ", max: 60},
			{prefix: "Sendt fra Outlook", max: 40},
			{prefix: "Få Outlook for ", max: 40},
			{prefix: "Sendt fra E-post for Windows", max: 40},
		},
	},
	{
		code:      "sv",
		from:      []string{"Från", "Avsändare"},
		date:      []string{"Skickat", "Datum", "Skickades"},
		to:        []string{"Till", "Mottagare"},
		subject:   []string{"Ämne"},
		cc:        []string{"Kopia"},
		originals: []string{"Ursprungligt meddelande", "Originalmeddelande", "Ursprungligt e-postmeddelande"},
		forwards:  []string{"Vidarebefordrat meddelande", "Vidarebefordrat mejl", "Vidarebefordrat brev"},
		signatures: []sigForm{
			{prefix: "Skickat från min ", max: 60},
			{prefix: "Skickades från min ", max: 60},
			{prefix: "Skickat från Outlook", max: 40},
			{prefix: "Skickat från E-post för Windows", max: 40},
			{prefix: "Hämta Outlook för ", max: 40},
		},
	},
	{
		code: "es",
		attributions: []attrForm{
			// Gmail "El lun, 5 feb 2024 a las 10:00, Jane (<jane@x>) escribió:"
			{starts: []string{"El "}, ends: []string{"escribió:", "escribio:", "escribió :"}},
			{ends: []string{"> escribió:", ") escribió:"}},
		},
		from:      []string{"De", "Remitente"},
		date:      []string{"Enviado", "Enviado el", "Fecha"},
		to:        []string{"Para", "Destinatario"},
		subject:   []string{"Asunto"},
		cc:        []string{"CC", "CCO"},
		originals: []string{"Mensaje original", "Mensaje Original"},
		forwards:  []string{"Mensaje reenviado", "Inicio del mensaje reenviado", "Correo reenviado"},
		signatures: []sigForm{
			{prefix: "Enviado desde mi ", max: 60},
			{prefix: "Enviado desde Outlook", max: 40},
			{prefix: "Enviado desde Correo para Windows", max: 50},
			{prefix: "Obtener Outlook para ", max: 40},
			{prefix: "Enviado desde Yahoo Mail", max: 50},
		},
	},
	{
		code: "pt",
		attributions: []attrForm{
			// Gmail pt-BR "Em seg., 5 de fev. de 2024 às 10:00, Jane <jane@x> escreveu:",
			// Apple Mail "No dia 5 de fev. de 2024, às 10:00, Jane <jane@x> escreveu:"
			{starts: []string{"Em ", "No dia ", "A "}, ends: []string{"escreveu:", "escreveu :"}},
			// Gmail pt-PT "Jane <jane@x> escreveu no dia segunda, 5/02/2024 à(s) 10:00:"
			{contains: []string{" escreveu no dia ", " escreveu em "}, ends: []string{":"}},
			{ends: []string{"> escreveu:"}},
		},
		from:      []string{"De", "Remetente"},
		date:      []string{"Enviado", "Enviada", "Data", "Enviado em"},
		to:        []string{"Para"},
		subject:   []string{"Assunto"},
		cc:        []string{"Cc"},
		originals: []string{"Mensagem original", "Mensagem Original"},
		forwards:  []string{"Mensagem encaminhada", "Início da mensagem encaminhada", "Início da mensagem reencaminhada", "Mensagem reencaminhada"},
		signatures: []sigForm{
			{prefix: "Enviado do meu ", max: 60},
			{prefix: "Enviado a partir do meu ", max: 60},
			{prefix: "Enviado do Outlook", max: 40},
			{prefix: "Enviado do Email para Windows", max: 50},
			{prefix: "Obter o Outlook para ", max: 40},
			{prefix: "Baixe o Outlook para ", max: 40},
		},
	},
	{
		code: "it",
		attributions: []attrForm{
			// Gmail "Il giorno lun 5 feb 2024 alle ore 10:00 Jane <jane@x> ha scritto:",
			// Thunderbird "Il 05/02/2024 10:00, Jane Doe ha scritto:"
			{starts: []string{"Il "}, ends: []string{"ha scritto:", "ha scritto :"}},
			{ends: []string{"> ha scritto:"}},
		},
		from:      []string{"Da", "Mittente"},
		date:      []string{"Inviato", "Data", "Inviato il"},
		to:        []string{"A", "Destinatario"},
		subject:   []string{"Oggetto"},
		cc:        []string{"Cc"},
		originals: []string{"Messaggio originale", "Messaggio Originale"},
		forwards:  []string{"Messaggio inoltrato", "Inizio messaggio inoltrato", "Messaggio Inoltrato"},
		signatures: []sigForm{
			{prefix: "Inviato da iPhone", max: 30},
			{prefix: "Inviato da iPad", max: 30},
			{prefix: "Inviato dal mio ", max: 60},
			{prefix: "Inviato da Outlook", max: 40},
			{prefix: "Inviato da Posta per Windows", max: 40},
			{prefix: "Scarica Outlook per ", max: 40},
		},
	},
	{
		code: "fi",
		attributions: []attrForm{
			// Gmail "ma 5. helmik. 2024 klo 10.00 Jane <jane@x> kirjoitti:",
			// Apple Mail and Thunderbird "Jane Doe kirjoitti 5.2.2024 klo 10.00:"
			{ends: []string{"kirjoitti:"}},
			{contains: []string{" kirjoitti "}, ends: []string{":"}},
		},
		from:      []string{"Lähettäjä"},
		date:      []string{"Lähetetty", "Päivämäärä"},
		to:        []string{"Vastaanottaja"},
		subject:   []string{"Aihe"},
		cc:        []string{"Kopio"},
		originals: []string{"Alkuperäinen viesti"},
		forwards:  []string{"Välitetty viesti", "Välitetty viesti alkaa", "Edelleenlähetetty viesti"},
		signatures: []sigForm{
			{prefix: "Lähetetty iPhonesta", max: 30},
			{prefix: "Lähetetty iPadista", max: 30},
			{prefix: "Lähetetty laitteesta ", max: 60},
			{prefix: "Lähetetty Outlookista", max: 40},
			{prefix: "Lähetetty Windowsin Sähköposti", max: 50},
			{prefix: "Hanki Outlook for ", max: 40},
		},
	},
	{
		code: "hu",
		attributions: []attrForm{
			// Gmail "Jane <jane@x> ezt írta (időpont: 2024. febr. 5., H, 10:00):"
			{contains: []string{" ezt írta "}, ends: []string{":"}},
			// Apple Mail "2024. febr. 5. dátummal, 10:00 időpontban Jane <jane@x> írta:",
			// Thunderbird "2024. 02. 05. 10:00 keltezéssel, Jane Doe írta:"
			{ends: []string{" írta:"}},
		},
		from:      []string{"Feladó"},
		date:      []string{"Elküldve", "Küldve", "Dátum", "Időpont"},
		to:        []string{"Címzett"},
		subject:   []string{"Tárgy"},
		cc:        []string{"Másolatot kap", "Másolat"},
		originals: []string{"Eredeti üzenet", "Eredeti levél"},
		forwards:  []string{"Továbbított levél", "Továbbított üzenet", "Továbbított levél kezdete"},
		signatures: []sigForm{
			{prefix: "iPhone-ról küldve", max: 30},
			{prefix: "Küldve az iPhone-omról", max: 30},
			{prefix: "Elküldve az iPhone-omról", max: 30},
			{prefix: "Az Outlook letöltése", max: 50},
			{prefix: "Küldve az Outlookból", max: 40},
		},
	},
	{
		code: "ru",
		attributions: []attrForm{
			// Apple Mail "5 февр. 2024 г., в 10:00, Jane <jane@x> написал(а):",
			// Thunderbird "05.02.2024 10:00, Jane Doe пишет:"
			{ends: []string{"написал(а):", "написал:", "написала:", "пишет:"}},
		},
		from:      []string{"От", "Отправитель"},
		date:      []string{"Отправлено", "Дата"},
		to:        []string{"Кому"},
		subject:   []string{"Тема"},
		cc:        []string{"Копия"},
		originals: []string{"Исходное сообщение", "Оригинальное сообщение", "Original Message"},
		forwards:  []string{"Пересылаемое сообщение", "Начало переадресованного сообщения", "Пересланное сообщение"},
		signatures: []sigForm{
			{prefix: "Отправлено с iPhone", max: 30},
			{prefix: "Отправлено с iPad", max: 30},
			{prefix: "Отправлено с моего ", max: 60},
			{prefix: "Отправлено из мобильной ", max: 60},
			{prefix: "Отправлено из Outlook", max: 40},
			{prefix: "Получить Outlook для ", max: 40},
		},
	},
	{
		code: "zh",
		attributions: []attrForm{
			// Gmail "Jane <jane@x> 于2024年2月5日周一 10:00写道：",
			// Apple Mail "在 2024年2月5日，10:00，Jane <jane@x> 写道：",
			// traditional "於 2024年2月5日 週一 上午10:00 寫道："
			{ends: []string{"写道：", "写道:", "寫道：", "寫道:", "写道 :"}},
		},
		from:      []string{"发件人", "發件人", "寄件者", "寄件人", "发信人"},
		date:      []string{"发送时间", "發送時間", "日期", "时间", "時間", "寄件日期", "发送日期"},
		to:        []string{"收件人", "收件者"},
		subject:   []string{"主题", "主題", "主旨"},
		cc:        []string{"抄送", "副本", "抄送人"},
		originals: []string{"原始邮件", "原始郵件", "原邮件", "回复的原邮件"},
		forwards:  []string{"转发的邮件", "轉寄的郵件", "以下是转发的邮件", "转发邮件信息", "轉寄郵件"},
		signatures: []sigForm{
			{prefix: "发自我的", max: 30},
			{prefix: "發自我的", max: 30},
			{prefix: "从我的", suffix: "发送", max: 30},
			{prefix: "從我的", suffix: "傳送", max: 30},
			{prefix: "获取 Outlook for ", max: 40},
		},
	},
	{
		code: "ja",
		attributions: []attrForm{
			// Apple Mail "2024/02/05 10:00、Jane <jane@x>のメッセージ:"
			{ends: []string{"のメッセージ:", "のメッセージ：", "は書きました:", "は書きました：", "さんは書きました:"}},
		},
		from:      []string{"差出人", "送信者", "送信元"},
		date:      []string{"送信日時", "日付", "送信日"},
		to:        []string{"宛先", "受信者"},
		subject:   []string{"件名"},
		cc:        []string{"CC"},
		originals: []string{"元のメッセージ", "オリジナルメッセージ", "Original Message"},
		forwards:  []string{"転送されたメッセージ", "転送メッセージ"},
		signatures: []sigForm{
			{suffix: "から送信", max: 25},
			{prefix: "Outlook for ", suffix: "を入手", max: 40},
		},
	},
	{
		code: "ko",
		attributions: []attrForm{
			// Gmail "2024년 2월 5일 (월) 오전 10:00, Jane <jane@x>님이 작성:",
			// Apple Mail "2024. 2. 5. 오전 10:00, Jane <jane@x> 작성:"
			{ends: []string{"작성:", "작성："}},
		},
		from:      []string{"보낸 사람", "보낸사람"},
		date:      []string{"보낸 날짜", "날짜", "보낸날짜"},
		to:        []string{"받는 사람", "받는사람"},
		subject:   []string{"제목"},
		cc:        []string{"참조"},
		originals: []string{"원본 메시지", "원본 메일"},
		forwards:  []string{"전달된 메일", "전달된 메시지", "전달 메시지"},
		signatures: []sigForm{
			{suffix: "에서 보냄", max: 30},
			{suffix: "에서 보냈습니다", max: 30},
		},
	},
	{
		code: "vi",
		attributions: []attrForm{
			// Gmail "Vào Th 2, 5 thg 2, 2024 vào lúc 10:00 Jane <jane@x> đã viết:"
			{ends: []string{"đã viết:", "đã viết :", "viết:"}},
		},
		from:      []string{"Từ", "Người gửi"},
		date:      []string{"Đã gửi", "Ngày", "Gửi"},
		to:        []string{"Đến", "Tới", "Người nhận"},
		subject:   []string{"Chủ đề", "Tiêu đề"},
		cc:        []string{"Cc"},
		originals: []string{"Thư gốc", "Tin nhắn gốc"},
		forwards:  []string{"Thư đã chuyển tiếp", "Thư chuyển tiếp", "Bắt đầu thư được chuyển tiếp"},
		signatures: []sigForm{
			{prefix: "Gửi từ ", suffix: "của tôi", max: 40},
			{prefix: "Được gửi từ ", max: 40},
		},
	},
}
