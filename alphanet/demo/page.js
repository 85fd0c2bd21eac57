// The try-it page. Each photo goes to the launcher's /predict/<server> twice at once, asking for the cutout
// and for the trimap the model used. The alpha is the cutout's alpha channel (the very values output=alpha
// answers) and the backgrounds are drawn here under the cutout (as output=composite would, up to rounding), so
// a photo costs two model runs, not five, and a new colour costs none.
"use strict";

const KEY_STORAGE = "alphanet-inference-key"; // sessionStorage: kept until the browser session ends

const serverChoice = document.getElementById("server");
const keyInput = document.getElementById("key");
const colourInput = document.getElementById("colour");
const results = document.getElementById("results");
const cardTemplate = document.getElementById("card");
const cards = [];
let queue = Promise.resolve(); // one photo after another: the server has few workers

keyInput.value = sessionStorage.getItem(KEY_STORAGE) || "";
keyInput.addEventListener("input", () => sessionStorage.setItem(KEY_STORAGE, keyInput.value.trim()));
colourInput.addEventListener("change", () => cards.forEach(card => card.cutout && showColourComposite(card)));
document.getElementById("photos").addEventListener("change", event => {
  addPhotos(event.target.files);
  event.target.value = ""; // so that picking the same file again runs it again
});
document.addEventListener("dragover", event => event.preventDefault());
document.addEventListener("drop", event => {
  event.preventDefault(); // the browser would otherwise leave the page to show the file
  addPhotos(event.dataTransfer.files);
});
listServers();

async function listServers() {
  const servers = await (await fetch("/servers")).json();
  serverChoice.replaceChildren(...servers.map(server => new Option(server.label, server.name)));
}

function addPhotos(files) {
  for (const photo of files) {
    const card = newCard(photo);
    cards.push(card);
    enqueue(card, null);
  }
}

function newCard(photo) {
  const element = cardTemplate.content.firstElementChild.cloneNode(true);
  const card = {
    photo,
    stem: photo.name.replace(/\.[^.]*$/, ""),
    cutout: null,
    element,
    status: element.querySelector(".status"),
    error: element.querySelector(".error"),
    tiles: element.querySelector(".tiles"),
  };
  element.querySelector(".name").textContent = photo.name;
  element.querySelector(".trimap").addEventListener("change", event => {
    const trimap = event.target.files[0];
    event.target.value = "";
    if (trimap) enqueue(card, trimap);
  });
  results.append(element);
  return card;
}

function enqueue(card, trimap) {
  card.element.classList.remove("done", "failed");
  card.status.textContent = "waiting…";
  queue = queue.then(() => cutOut(card, trimap));
}

// Asks for the cutout and the trimap and shows them, or shows the API's error message.
async function cutOut(card, trimap) {
  card.status.textContent = trimap ? `cutting out with ${trimap.name}…` : "cutting out…";
  card.error.hidden = true;
  try {
    const server = serverChoice.selectedOptions[0].text;
    const [cutout, usedTrimap] = await Promise.all([ask(card.photo, trimap, "cutout"),
                                                    ask(card.photo, trimap, "trimap")]);
    card.cutout = cutout.image;
    await showTiles(card, usedTrimap.image, trimap);
    card.status.textContent = `${server} answered: cutout in ${seconds(cutout)}, trimap in ${seconds(usedTrimap)}`;
    card.element.classList.add("done");
  } catch (error) {
    card.status.textContent = "";
    card.error.textContent = error.message;
    card.error.hidden = false;
    card.element.classList.add("failed");
  }
}

// One request to the chosen server, as TorchServe takes it: multipart with the photo, the user's trimap if any,
// and the output wanted; the inference key, when one is given, as TorchServe's bearer token.
async function ask(photo, trimap, output) {
  const form = new FormData();
  form.append("image", photo);
  if (trimap) form.append("trimap", trimap);
  form.append("output", output);
  const key = keyInput.value.trim();
  const headers = key ? {Authorization: `Bearer ${key}`} : {};
  const started = performance.now();
  let answer;
  try {
    answer = await fetch(`/predict/${serverChoice.value}`, {method: "POST", body: form, headers});
  } catch {
    throw new Error("The page's launcher does not answer: is `make demo` still running?");
  }
  const body = await answer.blob();
  const elapsed = (performance.now() - started) / 1000;
  if (!answer.ok) throw new Error(await errorMessage(answer, body));
  return {image: body, elapsed};
}

// The API's errors are JSON: {"code", "type", "message"}. TorchServe's own refusals may have no body at all
// (413 for an upload over its max_request_size): then the status says it.
async function errorMessage(answer, body) {
  const text = await body.text();
  try {
    const error = JSON.parse(text);
    if (error.message) return `${answer.status} ${error.type}: ${error.message}`;
  } catch {
    // not JSON: the status and the start of the text below
  }
  return `${answer.status} ${answer.statusText}${text ? `: ${text.slice(0, 300)}` : ""}`;
}

function seconds(answer) {
  return `${answer.elapsed.toFixed(2)} s`;
}

async function showTiles(card, usedTrimap, userTrimap) {
  showTile(card, "photo", card.photo, "photo", null);
  showTile(card, "cutout", card.cutout, "cutout", `${card.stem}-cutout.png`);
  showTile(card, "on-white", await composite(card.cutout, "#ffffff"), "on white", `${card.stem}-on-white.png`);
  await showColourComposite(card);
  showTile(card, "alpha", await alphaMatte(card.cutout), "alpha", `${card.stem}-alpha.png`);
  const trimapCaption = userTrimap ? `trimap: ${userTrimap.name}` : "trimap";
  showTile(card, "trimap", usedTrimap, trimapCaption, `${card.stem}-trimap.png`);
}

async function showColourComposite(card) {
  const colour = colourInput.value;
  const image = await composite(card.cutout, colour);
  showTile(card, "on-colour", image, `on ${colour}`, `${card.stem}-on-${colour.slice(1)}.png`);
}

// Puts `image` in the card's tile for `output` (made on first use, in the order of first use), with a download
// link under it unless `fileName` is null.
function showTile(card, output, image, caption, fileName) {
  let figure = card.tiles.querySelector(`figure[data-output="${output}"]`);
  if (!figure) {
    figure = document.createElement("figure");
    figure.dataset.output = output;
    figure.innerHTML = "<img alt=''><figcaption><span></span></figcaption>";
    if (fileName) figure.querySelector("figcaption").append(Object.assign(document.createElement("a"),
                                                                         {textContent: "Download"}));
    card.tiles.append(figure);
  }
  const img = figure.querySelector("img");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(image);
  figure.querySelector("span").textContent = caption;
  const link = figure.querySelector("a");
  if (link) Object.assign(link, {href: img.src, download: fileName});
}

// The cutout over a plain colour.
async function composite(cutout, colour) {
  const bitmap = await createImageBitmap(cutout);
  const canvas = canvasFor(bitmap);
  const context = canvas.getContext("2d");
  context.fillStyle = colour;
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0);
  return png(canvas);
}

// The cutout's alpha channel as a grey image. Alpha survives the canvas exactly (colours would not, where
// alpha is small: the canvas stores them premultiplied).
async function alphaMatte(cutout) {
  const bitmap = await createImageBitmap(cutout, {premultiplyAlpha: "none"});
  const canvas = canvasFor(bitmap);
  const context = canvas.getContext("2d");
  context.drawImage(bitmap, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const values = pixels.data; // RGBA, 4 bytes a pixel
  for (let i = 0; i < values.length; i += 4) {
    values.fill(values[i + 3], i, i + 3);
    values[i + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
  return png(canvas);
}

function canvasFor(bitmap) {
  const canvas = document.createElement("canvas");
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  return canvas;
}

function png(canvas) {
  return new Promise(resolve => canvas.toBlob(resolve, "image/png"));
}
