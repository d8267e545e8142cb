#include "i18n.h"

#include <apr_strings.h>
#include <string.h>

/* Catalog texts hold no '%' except the one "%s" where the argument goes; i18n.c never
 * hands them to printf, so a stray '%' would only show up literally. Designated
 * initializers keep each entry tied to its key whatever the order of the enum. */

static const char *const codes[PUSH_MSG__COUNT] = {
    [PUSH_MSG_RESOURCE_MISSING]     = "FPWSE0001E",
    [PUSH_MSG_APP_MISSING]          = "FPWSE0001E",
    [PUSH_MSG_DEVICE_MISSING]       = "FPWSE0001E",
    [PUSH_MSG_TAG_MISSING]          = "FPWSE0001E",
    [PUSH_MSG_WEBHOOK_MISSING]      = "FPWSE0001E",
    [PUSH_MSG_SETTINGS_MISSING]     = "FPWSE0001E",
    [PUSH_MSG_ALREADY_EXISTS]       = "FPWSE0002E",
    [PUSH_MSG_PREREQ_MISSING]       = "FPWSE0003E",
    [PUSH_MSG_INVALID_JSON]         = "FPWSE0004E",
    [PUSH_MSG_PROPERTY_INVALID]     = "FPWSE0005E",
    [PUSH_MSG_UNKNOWN_PROPERTY]     = "FPWSE0006E",
    [PUSH_MSG_UNKNOWN_QUERY_PARAM]  = "FPWSE0007E",
    [PUSH_MSG_QUERY_PARAM_MISSING]  = "FPWSE0008E",
    [PUSH_MSG_NO_DEVICES]           = "FPWSE0009E",
    [PUSH_MSG_INTERNAL]             = "FPWSE0010E",
    [PUSH_MSG_SUBSCRIPTION_EXISTS]  = "FPWSE0011E",
    [PUSH_MSG_SUBSCRIPTION_MISSING] = "FPWSE0012E",
    [PUSH_MSG_UNAVAILABLE]          = "FPWSE0025E",
    [PUSH_MSG_PUSH_DISABLED]        = "FPWSE1007E",
    [PUSH_MSG_BAD_OFFSET]           = "FPWSE1079E",
    [PUSH_MSG_BAD_SIZE]             = "FPWSE1080E",
    [PUSH_MSG_BAD_FILTER]           = "FPWSE0005E",
    [PUSH_MSG_NOT_ACCEPTABLE]       = "FPWSE0005E",
    [PUSH_MSG_UNSUPPORTED_MEDIA]    = "FPWSE0005E",
    [PUSH_MSG_BODY_TOO_LARGE]       = "FPWSE0005E",
    [PUSH_MSG_METHOD_NOT_ALLOWED]   = "FPWSE0005E",
    [PUSH_MSG_USER_ID_TOO_LONG]     = "FPWSE0005E",
    [PUSH_MSG_CERT_INVALID]         = "FPWSE0005E",
    [PUSH_MSG_URL_REFUSED]          = "FPWSE0005E",
    [PUSH_MSG_WEBHOOK_LIMIT]        = "FPWSE0005E",
    [PUSH_MSG_HOST_REFUSED]         = "FPWSE0005E",
    [PUSH_MSG_QUOTA]                = "FPWSE0429E",
};

static const char *const text_en[PUSH_MSG__COUNT] = {
    [PUSH_MSG_RESOURCE_MISSING]     = "The resource %s does not exist.",
    [PUSH_MSG_APP_MISSING]          = "The application does not exist.",
    [PUSH_MSG_DEVICE_MISSING]       = "The device %s does not exist.",
    [PUSH_MSG_TAG_MISSING]          = "The tag %s does not exist.",
    [PUSH_MSG_WEBHOOK_MISSING]      = "The webhook %s does not exist.",
    [PUSH_MSG_SETTINGS_MISSING]     = "No %s settings are configured for this application.",
    [PUSH_MSG_ALREADY_EXISTS]       = "The resource %s already exists.",
    [PUSH_MSG_PREREQ_MISSING]       = "The %s credentials must be configured first.",
    [PUSH_MSG_INVALID_JSON]         = "The request body is not valid JSON.",
    [PUSH_MSG_PROPERTY_INVALID]     = "The property %s is missing or invalid.",
    [PUSH_MSG_UNKNOWN_PROPERTY]     = "The property %s is not recognized.",
    [PUSH_MSG_UNKNOWN_QUERY_PARAM]  = "The query parameter %s is not recognized.",
    [PUSH_MSG_QUERY_PARAM_MISSING]  = "The query parameter %s is required.",
    [PUSH_MSG_NO_DEVICES]           = "No devices match the target.",
    [PUSH_MSG_INTERNAL]             = "An internal error occurred.",
    [PUSH_MSG_SUBSCRIPTION_EXISTS]  = "The device is already subscribed to the tag.",
    [PUSH_MSG_SUBSCRIPTION_MISSING] = "The subscription does not exist.",
    [PUSH_MSG_UNAVAILABLE]          = "The service is temporarily unavailable; please try again later.",
    [PUSH_MSG_PUSH_DISABLED]        = "Push notifications are disabled for this application.",
    [PUSH_MSG_BAD_OFFSET]           = "The offset must be a number greater than or equal to 0.",
    [PUSH_MSG_BAD_SIZE]             = "The size must be a number greater than 0 and at most %s.",
    [PUSH_MSG_BAD_FILTER]           = "The filter is invalid: %s",
    [PUSH_MSG_NOT_ACCEPTABLE]       = "The response is only available as application/json.",
    [PUSH_MSG_UNSUPPORTED_MEDIA]    = "The request body must be %s.",
    [PUSH_MSG_BODY_TOO_LARGE]       = "The request body is larger than the %s bytes allowed.",
    [PUSH_MSG_METHOD_NOT_ALLOWED]   = "The method is not allowed on this resource.",
    [PUSH_MSG_USER_ID_TOO_LONG]     = "The userId must be at most 254 characters long.",
    [PUSH_MSG_CERT_INVALID]         = "The certificate could not be opened: %s",
    [PUSH_MSG_URL_REFUSED]          = "The property url is not accepted: %s",
    [PUSH_MSG_WEBHOOK_LIMIT]        = "An application can have at most %s webhooks.",
    [PUSH_MSG_HOST_REFUSED]         = "The property host is not accepted: %s",
    [PUSH_MSG_QUOTA]                = "The application has reached its limit (%s); please try again later.",
};

static const char *const text_de[PUSH_MSG__COUNT] = {
    [PUSH_MSG_RESOURCE_MISSING]     = "Die Ressource %s ist nicht vorhanden.",
    [PUSH_MSG_APP_MISSING]          = "Die Anwendung ist nicht vorhanden.",
    [PUSH_MSG_DEVICE_MISSING]       = "Das Gerät %s ist nicht vorhanden.",
    [PUSH_MSG_TAG_MISSING]          = "Das Tag %s ist nicht vorhanden.",
    [PUSH_MSG_WEBHOOK_MISSING]      = "Der Webhook %s ist nicht vorhanden.",
    [PUSH_MSG_SETTINGS_MISSING]     = "Für diese Anwendung sind keine %s-Einstellungen konfiguriert.",
    [PUSH_MSG_ALREADY_EXISTS]       = "Die Ressource %s ist bereits vorhanden.",
    [PUSH_MSG_PREREQ_MISSING]       = "Zuerst müssen die %s-Zugangsdaten konfiguriert werden.",
    [PUSH_MSG_INVALID_JSON]         = "Der Inhalt der Anfrage ist kein gültiges JSON.",
    [PUSH_MSG_PROPERTY_INVALID]     = "Die Eigenschaft %s fehlt oder ist ungültig.",
    [PUSH_MSG_UNKNOWN_PROPERTY]     = "Die Eigenschaft %s ist unbekannt.",
    [PUSH_MSG_UNKNOWN_QUERY_PARAM]  = "Der Abfrageparameter %s ist unbekannt.",
    [PUSH_MSG_QUERY_PARAM_MISSING]  = "Der Abfrageparameter %s ist erforderlich.",
    [PUSH_MSG_NO_DEVICES]           = "Es gibt keine Geräte, die dem Ziel entsprechen.",
    [PUSH_MSG_INTERNAL]             = "Es ist ein interner Fehler aufgetreten.",
    [PUSH_MSG_SUBSCRIPTION_EXISTS]  = "Das Gerät hat das Tag bereits abonniert.",
    [PUSH_MSG_SUBSCRIPTION_MISSING] = "Das Abonnement ist nicht vorhanden.",
    [PUSH_MSG_UNAVAILABLE]          = "Der Dienst ist vorübergehend nicht verfügbar. Bitte versuchen Sie es später erneut.",
    [PUSH_MSG_PUSH_DISABLED]        = "Push-Benachrichtigungen sind für diese Anwendung deaktiviert.",
    [PUSH_MSG_BAD_OFFSET]           = "Der Offset muss eine Zahl größer oder gleich 0 sein.",
    [PUSH_MSG_BAD_SIZE]             = "Die Größe muss eine Zahl größer als 0 und höchstens %s sein.",
    [PUSH_MSG_BAD_FILTER]           = "Der Filter ist ungültig: %s",
    [PUSH_MSG_NOT_ACCEPTABLE]       = "Die Antwort ist nur als application/json verfügbar.",
    [PUSH_MSG_UNSUPPORTED_MEDIA]    = "Der Inhalt der Anfrage muss vom Typ %s sein.",
    [PUSH_MSG_BODY_TOO_LARGE]       = "Der Inhalt der Anfrage ist größer als die erlaubten %s Bytes.",
    [PUSH_MSG_METHOD_NOT_ALLOWED]   = "Die Methode ist für diese Ressource nicht zulässig.",
    [PUSH_MSG_USER_ID_TOO_LONG]     = "Die userId darf höchstens 254 Zeichen lang sein.",
    [PUSH_MSG_CERT_INVALID]         = "Das Zertifikat konnte nicht geöffnet werden: %s",
    [PUSH_MSG_URL_REFUSED]          = "Die Eigenschaft url wird nicht akzeptiert: %s",
    [PUSH_MSG_WEBHOOK_LIMIT]        = "Eine Anwendung kann höchstens %s Webhooks haben.",
    [PUSH_MSG_HOST_REFUSED]         = "Die Eigenschaft host wird nicht akzeptiert: %s",
    [PUSH_MSG_QUOTA]                = "Die Anwendung hat ihr Limit (%s) erreicht. Bitte versuchen Sie es später erneut.",
};

static const char *const text_fr[PUSH_MSG__COUNT] = {
    [PUSH_MSG_RESOURCE_MISSING]     = "La ressource %s n'existe pas.",
    [PUSH_MSG_APP_MISSING]          = "L'application n'existe pas.",
    [PUSH_MSG_DEVICE_MISSING]       = "L'appareil %s n'existe pas.",
    [PUSH_MSG_TAG_MISSING]          = "La balise %s n'existe pas.",
    [PUSH_MSG_WEBHOOK_MISSING]      = "Le webhook %s n'existe pas.",
    [PUSH_MSG_SETTINGS_MISSING]     = "Aucun paramètre %s n'est configuré pour cette application.",
    [PUSH_MSG_ALREADY_EXISTS]       = "La ressource %s existe déjà.",
    [PUSH_MSG_PREREQ_MISSING]       = "Les identifiants %s doivent d'abord être configurés.",
    [PUSH_MSG_INVALID_JSON]         = "Le corps de la requête n'est pas un JSON valide.",
    [PUSH_MSG_PROPERTY_INVALID]     = "La propriété %s est manquante ou non valide.",
    [PUSH_MSG_UNKNOWN_PROPERTY]     = "La propriété %s n'est pas reconnue.",
    [PUSH_MSG_UNKNOWN_QUERY_PARAM]  = "Le paramètre de requête %s n'est pas reconnu.",
    [PUSH_MSG_QUERY_PARAM_MISSING]  = "Le paramètre de requête %s est obligatoire.",
    [PUSH_MSG_NO_DEVICES]           = "Aucun appareil ne correspond à la cible.",
    [PUSH_MSG_INTERNAL]             = "Une erreur interne s'est produite.",
    [PUSH_MSG_SUBSCRIPTION_EXISTS]  = "L'appareil est déjà abonné à la balise.",
    [PUSH_MSG_SUBSCRIPTION_MISSING] = "L'abonnement n'existe pas.",
    [PUSH_MSG_UNAVAILABLE]          = "Le service est temporairement indisponible. Veuillez réessayer plus tard.",
    [PUSH_MSG_PUSH_DISABLED]        = "Les notifications push sont désactivées pour cette application.",
    [PUSH_MSG_BAD_OFFSET]           = "Le décalage doit être un nombre supérieur ou égal à 0.",
    [PUSH_MSG_BAD_SIZE]             = "La taille doit être un nombre supérieur à 0 et inférieur ou égal à %s.",
    [PUSH_MSG_BAD_FILTER]           = "Le filtre n'est pas valide : %s",
    [PUSH_MSG_NOT_ACCEPTABLE]       = "La réponse n'est disponible qu'au format application/json.",
    [PUSH_MSG_UNSUPPORTED_MEDIA]    = "Le corps de la requête doit être de type %s.",
    [PUSH_MSG_BODY_TOO_LARGE]       = "Le corps de la requête dépasse les %s octets permis.",
    [PUSH_MSG_METHOD_NOT_ALLOWED]   = "La méthode n'est pas autorisée sur cette ressource.",
    [PUSH_MSG_USER_ID_TOO_LONG]     = "Le userId ne doit pas dépasser 254 caractères.",
    [PUSH_MSG_CERT_INVALID]         = "Impossible d'ouvrir le certificat : %s",
    [PUSH_MSG_URL_REFUSED]          = "La propriété url n'est pas acceptée : %s",
    [PUSH_MSG_WEBHOOK_LIMIT]        = "Une application peut avoir au plus %s webhooks.",
    [PUSH_MSG_HOST_REFUSED]         = "La propriété host n'est pas acceptée : %s",
    [PUSH_MSG_QUOTA]                = "L'application a atteint sa limite (%s). Veuillez réessayer plus tard.",
};

static const char *const text_es[PUSH_MSG__COUNT] = {
    [PUSH_MSG_RESOURCE_MISSING]     = "El recurso %s no existe.",
    [PUSH_MSG_APP_MISSING]          = "La aplicación no existe.",
    [PUSH_MSG_DEVICE_MISSING]       = "El dispositivo %s no existe.",
    [PUSH_MSG_TAG_MISSING]          = "La etiqueta %s no existe.",
    [PUSH_MSG_WEBHOOK_MISSING]      = "El webhook %s no existe.",
    [PUSH_MSG_SETTINGS_MISSING]     = "Esta aplicación no tiene configurados los ajustes de %s.",
    [PUSH_MSG_ALREADY_EXISTS]       = "El recurso %s ya existe.",
    [PUSH_MSG_PREREQ_MISSING]       = "Primero deben configurarse las credenciales de %s.",
    [PUSH_MSG_INVALID_JSON]         = "El cuerpo de la solicitud no es un JSON válido.",
    [PUSH_MSG_PROPERTY_INVALID]     = "La propiedad %s falta o no es válida.",
    [PUSH_MSG_UNKNOWN_PROPERTY]     = "La propiedad %s no se reconoce.",
    [PUSH_MSG_UNKNOWN_QUERY_PARAM]  = "El parámetro de consulta %s no se reconoce.",
    [PUSH_MSG_QUERY_PARAM_MISSING]  = "El parámetro de consulta %s es obligatorio.",
    [PUSH_MSG_NO_DEVICES]           = "Ningún dispositivo coincide con el destino.",
    [PUSH_MSG_INTERNAL]             = "Se ha producido un error interno.",
    [PUSH_MSG_SUBSCRIPTION_EXISTS]  = "El dispositivo ya está suscrito a la etiqueta.",
    [PUSH_MSG_SUBSCRIPTION_MISSING] = "La suscripción no existe.",
    [PUSH_MSG_UNAVAILABLE]          = "El servicio no está disponible temporalmente; inténtelo de nuevo más tarde.",
    [PUSH_MSG_PUSH_DISABLED]        = "Las notificaciones push están desactivadas para esta aplicación.",
    [PUSH_MSG_BAD_OFFSET]           = "El desplazamiento debe ser un número mayor o igual que 0.",
    [PUSH_MSG_BAD_SIZE]             = "El tamaño debe ser un número mayor que 0 y no superior a %s.",
    [PUSH_MSG_BAD_FILTER]           = "El filtro no es válido: %s",
    [PUSH_MSG_NOT_ACCEPTABLE]       = "La respuesta solo está disponible como application/json.",
    [PUSH_MSG_UNSUPPORTED_MEDIA]    = "El cuerpo de la solicitud debe ser de tipo %s.",
    [PUSH_MSG_BODY_TOO_LARGE]       = "El cuerpo de la solicitud supera los %s bytes permitidos.",
    [PUSH_MSG_METHOD_NOT_ALLOWED]   = "El método no está permitido en este recurso.",
    [PUSH_MSG_USER_ID_TOO_LONG]     = "El userId debe tener como máximo 254 caracteres.",
    [PUSH_MSG_CERT_INVALID]         = "No se ha podido abrir el certificado: %s",
    [PUSH_MSG_URL_REFUSED]          = "La propiedad url no se acepta: %s",
    [PUSH_MSG_WEBHOOK_LIMIT]        = "Una aplicación puede tener como máximo %s webhooks.",
    [PUSH_MSG_HOST_REFUSED]         = "La propiedad host no se acepta: %s",
    [PUSH_MSG_QUOTA]                = "La aplicación ha alcanzado su límite (%s); inténtelo de nuevo más tarde.",
};

static const char *const text_ja[PUSH_MSG__COUNT] = {
    [PUSH_MSG_RESOURCE_MISSING]     = "リソース %s は存在しません。",
    [PUSH_MSG_APP_MISSING]          = "アプリケーションは存在しません。",
    [PUSH_MSG_DEVICE_MISSING]       = "デバイス %s は存在しません。",
    [PUSH_MSG_TAG_MISSING]          = "タグ %s は存在しません。",
    [PUSH_MSG_WEBHOOK_MISSING]      = "Webhook %s は存在しません。",
    [PUSH_MSG_SETTINGS_MISSING]     = "このアプリケーションには %s の設定が構成されていません。",
    [PUSH_MSG_ALREADY_EXISTS]       = "リソース %s は既に存在します。",
    [PUSH_MSG_PREREQ_MISSING]       = "先に %s の資格情報を構成する必要があります。",
    [PUSH_MSG_INVALID_JSON]         = "リクエストの本文が有効な JSON ではありません。",
    [PUSH_MSG_PROPERTY_INVALID]     = "プロパティー %s が指定されていないか、無効です。",
    [PUSH_MSG_UNKNOWN_PROPERTY]     = "プロパティー %s は認識されません。",
    [PUSH_MSG_UNKNOWN_QUERY_PARAM]  = "クエリーパラメーター %s は認識されません。",
    [PUSH_MSG_QUERY_PARAM_MISSING]  = "クエリーパラメーター %s は必須です。",
    [PUSH_MSG_NO_DEVICES]           = "ターゲットに一致するデバイスがありません。",
    [PUSH_MSG_INTERNAL]             = "内部エラーが発生しました。",
    [PUSH_MSG_SUBSCRIPTION_EXISTS]  = "デバイスは既にこのタグをサブスクライブしています。",
    [PUSH_MSG_SUBSCRIPTION_MISSING] = "サブスクリプションは存在しません。",
    [PUSH_MSG_UNAVAILABLE]          = "サービスは一時的に利用できません。しばらくしてから再試行してください。",
    [PUSH_MSG_PUSH_DISABLED]        = "このアプリケーションではプッシュ通知が無効になっています。",
    [PUSH_MSG_BAD_OFFSET]           = "オフセットは 0 以上の数値でなければなりません。",
    [PUSH_MSG_BAD_SIZE]             = "サイズは 0 より大きく %s 以下の数値でなければなりません。",
    [PUSH_MSG_BAD_FILTER]           = "フィルターが無効です: %s",
    [PUSH_MSG_NOT_ACCEPTABLE]       = "レスポンスは application/json 形式でのみ提供されます。",
    [PUSH_MSG_UNSUPPORTED_MEDIA]    = "リクエストの本文は %s 形式でなければなりません。",
    [PUSH_MSG_BODY_TOO_LARGE]       = "リクエストの本文が許可された %s バイトを超えています。",
    [PUSH_MSG_METHOD_NOT_ALLOWED]   = "このリソースではこのメソッドは許可されていません。",
    [PUSH_MSG_USER_ID_TOO_LONG]     = "userId は 254 文字以内でなければなりません。",
    [PUSH_MSG_CERT_INVALID]         = "証明書を開けませんでした: %s",
    [PUSH_MSG_URL_REFUSED]          = "プロパティー url は受け付けられません: %s",
    [PUSH_MSG_WEBHOOK_LIMIT]        = "1 つのアプリケーションが持てる Webhook は最大 %s 個です。",
    [PUSH_MSG_HOST_REFUSED]         = "プロパティー host は受け付けられません: %s",
    [PUSH_MSG_QUOTA]                = "アプリケーションが上限 (%s) に達しました。後でもう一度お試しください。",
};

typedef struct {
    const char *tag;           /* what push_i18n_language answers */
    const char *primary;       /* the primary subtag that reaches it */
    const char *const *text;
} language_t;

/* The default comes first: index 0 is the fallback everywhere below. */
static const language_t languages[] = {
    { PUSH_I18N_DEFAULT, "en", text_en },
    { "de", "de", text_de },
    { "fr", "fr", text_fr },
    { "es", "es", text_es },
    { "ja", "ja", text_ja },
};
#define N_LANGUAGES ((int)(sizeof(languages) / sizeof(languages[0])))

/* ASCII only: tags and q-values are ASCII, and the C locale's tolower is not wanted. */
static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* s[0..len) equals the NUL-terminated z, ignoring ASCII case. */
static int same(const char *s, apr_size_t len, const char *z)
{
    apr_size_t i;
    for (i = 0; i < len; i++)
        if (z[i] == '\0' || lower(s[i]) != lower(z[i]))
            return 0;
    return z[len] == '\0';
}

/* The language a tag or range reaches through its primary subtag, or -1. *exact says
 * whether it names the language itself ("de", "en", "en-US") rather than a variant of
 * it ("de-AT"); only such a range can rule a language out with q=0. */
static int lookup(const char *s, apr_size_t len, int *exact)
{
    apr_size_t plen = 0;
    while (plen < len && s[plen] != '-')
        plen++;
    for (int i = 0; i < N_LANGUAGES; i++) {
        if (same(s, plen, languages[i].primary)) {
            *exact = plen == len || same(s, len, languages[i].tag);
            return i;
        }
    }
    return -1;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths so that
 * comparisons are exact. */
static int parse_q(const char *s, apr_size_t len, int *q)
{
    apr_size_t i;
    int v, scale = 100;
    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return 0;
    v = (s[0] - '0') * 1000;
    if (len == 1)
        goto done;
    if (s[1] != '.' || len > 5)
        return 0;
    for (i = 2; i < len; i++, scale /= 10) {
        if (!is_digit(s[i]) || (s[0] == '1' && s[i] != '0'))
            return 0;
        v += (s[i] - '0') * scale;
    }
done:
    *q = v;
    return 1;
}

/* One list element, without surrounding whitespace. Sets *lang (-1 for a range we do
 * not serve, -2 for "*"), *exact and *q; 0 when the element is malformed. */
static int parse_element(const char *s, apr_size_t len, int *lang, int *exact, int *q)
{
    apr_size_t i = 0, range_len;

    if (s[0] == '*') {
        i = 1;
    } else {
        /* 1*8ALPHA *( "-" 1*8alphanum ) */
        apr_size_t n = 0;
        while (i < len && is_alpha(s[i]) && n < 9)
            i++, n++;
        if (n == 0 || n > 8)
            return 0;
        while (i < len && s[i] == '-') {
            i++;
            n = 0;
            while (i < len && (is_alpha(s[i]) || is_digit(s[i])) && n < 9)
                i++, n++;
            if (n == 0 || n > 8)
                return 0;
        }
    }
    range_len = i;

    *q = 1000;
    while (i < len && is_ows(s[i]))
        i++;
    if (i < len) {
        /* weight = OWS ";" OWS "q=" qvalue; no other parameter is defined */
        if (s[i++] != ';')
            return 0;
        while (i < len && is_ows(s[i]))
            i++;
        if (len - i < 2 || lower(s[i]) != 'q' || s[i + 1] != '=')
            return 0;
        if (!parse_q(s + i + 2, len - i - 2, q))
            return 0;
    }

    if (range_len == 1 && s[0] == '*') {
        *lang = -2;
        *exact = 0;
    } else {
        *lang = lookup(s, range_len, exact);
    }
    return 1;
}

const char *push_i18n_language(const char *accept_language)
{
    int q[N_LANGUAGES], pos[N_LANGUAGES], excluded[N_LANGUAGES] = { 0 };
    int best = 0, element = 0;
    const char *s = accept_language;

    if (!s)
        return languages[0].tag;
    for (int i = 0; i < N_LANGUAGES; i++) {
        q[i] = 0;
        pos[i] = 0;
    }
    /* Neither ranges nor q-values contain commas, so splitting on them first is safe;
     * empty elements are allowed by the list syntax. One pass, no allocation, whatever
     * the length of the header. */
    while (*s) {
        const char *start = s, *end;
        int lang, exact, weight;
        while (*s && *s != ',')
            s++;
        end = s;
        if (*s)
            s++;
        while (start < end && is_ows(*start))
            start++;
        while (end > start && is_ows(end[-1]))
            end--;
        if (start == end)
            continue;
        element++;
        if (!parse_element(start, (apr_size_t)(end - start), &lang, &exact, &weight))
            continue;
        if (lang == -1)
            continue;
        if (lang == -2)
            lang = 0;
        if (weight == 0) {
            if (exact)
                excluded[lang] = 1;
            continue;
        }
        /* Strictly greater: an equal weight later in the header does not move it back. */
        if (weight > q[lang]) {
            q[lang] = weight;
            pos[lang] = element;
        }
    }

    best = -1;
    for (int i = 0; i < N_LANGUAGES; i++) {
        if (excluded[i] || q[i] == 0)
            continue;
        if (best < 0 || q[i] > q[best] || (q[i] == q[best] && pos[i] < pos[best]))
            best = i;
    }
    return languages[best < 0 ? 0 : best].tag;
}

const char *push_i18n_code(push_msg_t m)
{
    if ((unsigned)m >= PUSH_MSG__COUNT)
        m = PUSH_MSG_INTERNAL;
    return codes[m];
}

const char *push_i18n_text(apr_pool_t *p, push_msg_t m, const char *lang, const char *arg)
{
    const language_t *l = &languages[0];
    const char *text, *hole;

    if ((unsigned)m >= PUSH_MSG__COUNT)
        m = PUSH_MSG_INTERNAL;
    if (lang) {
        int exact, i = lookup(lang, strlen(lang), &exact);
        if (i >= 0)
            l = &languages[i];
    }
    text = l->text[m];
    if (!text)
        text = text_en[m];   /* a gap in a translation shows English rather than nothing */
    /* Spliced in by hand: the argument is caller input and must never meet printf. */
    hole = strstr(text, "%s");
    if (!hole)
        return text;
    return apr_pstrcat(p, apr_pstrmemdup(p, text, (apr_size_t)(hole - text)),
                       arg ? arg : "", hole + 2, NULL);
}
